import { Box, Text, useInput } from 'ink';
import type { Project } from '../../domain/project.js';

export interface ControlCenterProps {
  projects: Project[];
  columns: number;
  rows: number;
  version: string;
  onQuit: () => void;
}

/**
 * The first screen: the projects, read-only for now. It fills the terminal
 * exactly and never grows taller, so Ink redraws in place without flicker.
 */
export function ControlCenter({ projects, columns, rows, version, onQuit }: ControlCenterProps) {
  useInput((input) => {
    if (input === 'q') onQuit();
  });
  const listRows = Math.max(0, rows - 4);
  const shown = projects.slice(0, listRows);
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Box justifyContent="space-between">
        <Text bold>berth</Text>
        <Text dimColor>{version}</Text>
      </Box>
      <Box flexDirection="column" flexGrow={1} marginTop={1}>
        {projects.length === 0 ? (
          <Text>No projects yet. Add one with: berth project add &lt;name&gt;</Text>
        ) : (
          shown.map((project) => (
            <Text key={project.name} wrap="truncate-end">
              {project.name.padEnd(24)} {project.mode.padEnd(10)} {project.state}
            </Text>
          ))
        )}
      </Box>
      <Text dimColor wrap="truncate-end">
        {projects.length > shown.length ? `${projects.length - shown.length} more · ` : ''}q quit
      </Text>
    </Box>
  );
}
