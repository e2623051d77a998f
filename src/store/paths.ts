import path from 'node:path';
import envPaths from 'env-paths';
import { workspacesFolderOf } from '../domain/project.js';

/** Where berth keeps everything of one user. */
export interface BerthPaths {
  /** `$BERTH_HOME`, or the XDG data folder for berth. */
  home: string;
  /** Folder of the settings file (conf): `$BERTH_HOME`, or the XDG config folder. */
  settingsDir: string;
  registry: string;
  audit: string;
  transcripts: string;
  /** Workspaces that berth creates for projects added without --path. */
  workspaces: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): BerthPaths {
  const explicitHome = env.BERTH_HOME?.trim();
  const xdg = envPaths('berth', { suffix: '' });
  const home = explicitHome ? path.resolve(explicitHome) : xdg.data;
  return {
    home,
    settingsDir: explicitHome ? home : xdg.config,
    registry: path.join(home, 'projects.json'),
    audit: path.join(home, 'audit.jsonl'),
    transcripts: path.join(home, 'transcripts'),
    workspaces: workspacesFolderOf(home),
  };
}
