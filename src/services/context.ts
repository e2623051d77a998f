import { AuditLog } from '../store/audit-log.js';
import { resolvePaths, type BerthPaths } from '../store/paths.js';
import { ProjectRegistry } from '../store/project-registry.js';
import { SettingsStore } from '../store/settings-store.js';
import { ProjectService } from './project-service.js';

/** The services of one berth process, wired once and passed to whoever needs them. */
export interface BerthContext {
  paths: BerthPaths;
  projects: ProjectService;
  /** Loaded on first use: most commands never read settings. */
  settings(): SettingsStore;
}

export function createContext(env: NodeJS.ProcessEnv = process.env): BerthContext {
  const paths = resolvePaths(env);
  const registry = new ProjectRegistry(paths.registry);
  const audit = new AuditLog(paths.audit);
  let settings: SettingsStore | undefined;
  return {
    paths,
    projects: new ProjectService(paths, registry, audit),
    settings: () => (settings ??= new SettingsStore(paths.settingsDir)),
  };
}
