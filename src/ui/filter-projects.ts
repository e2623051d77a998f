/**
 * The `/` filter: which projects a query keeps. A case-insensitive substring
 * of the name, or a mode word typed in full (`container`), so that typing a
 * short name fragment never matches every project by its mode.
 */
export function filterProjects<T extends { project: { name: string; mode?: string } }>(views: readonly T[], query: string): T[] {
  const wanted = query.trim().toLowerCase();
  if (wanted === '') return [...views];
  return views.filter(({ project }) => project.name.toLowerCase().includes(wanted) || project.mode?.toLowerCase() === wanted);
}
