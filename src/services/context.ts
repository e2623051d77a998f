import { AuditLog } from '../store/audit-log.js';
import { resolvePaths, type BerthPaths } from '../store/paths.js';
import { ProjectRegistry } from '../store/project-registry.js';
import { SettingsStore } from '../store/settings-store.js';
import { ProjectService } from './project-service.js';
import type { ChatService } from './chat-service.js';
import type { RuntimeService } from './runtime-service.js';
import type { Supervisor, SupervisorDeps } from './supervisor.js';

/** The services of one berth process, wired once and passed to whoever needs them. */
export interface BerthContext {
  paths: BerthPaths;
  projects: ProjectService;
  /** The registry itself, for the reconciler, which writes only projects' states. */
  registry: ProjectRegistry;
  /** Loaded on first use: most commands never read settings. */
  settings(): SettingsStore;
  /** Runs agents' commands and manages containers; loaded only by the commands that need it. */
  runtime(global?: { engine?: string }): Promise<RuntimeService>;
  /** Chat sessions with the projects' agents, on the same runtime. */
  chat(global?: { engine?: string }): Promise<ChatService>;
  /** The policies' supervisor, on the same runtime; `extra` adds what a long-running berth knows (its reconciler's view, stats). */
  supervisor(global?: { engine?: string }, extra?: Partial<SupervisorDeps>): Promise<Supervisor>;
}

export function createContext(env: NodeJS.ProcessEnv = process.env): BerthContext {
  const paths = resolvePaths(env);
  const registry = new ProjectRegistry(paths.registry);
  const audit = new AuditLog(paths.audit);
  let settings: SettingsStore | undefined;
  let runtimeService: Promise<RuntimeService> | undefined;
  // Imported lazily: it pulls in dockerode, which project and config commands never need.
  const runtime = (global: { engine?: string } = {}) =>
    (runtimeService ??= import('./runtime-service.js').then(
      ({ RuntimeService }) => new RuntimeService({ paths, projects, settings: settingsStore, audit, engineFlag: global.engine, env }),
    ));
  const projects = new ProjectService(paths, registry, audit);
  const settingsStore = () => (settings ??= new SettingsStore(paths.settingsDir));
  return {
    paths,
    projects,
    registry,
    settings: settingsStore,
    runtime,
    chat: async (global = {}) => {
      const [{ ChatService }, { agentAdapter }] = await Promise.all([import('./chat-service.js'), import('../agents/registry.js')]);
      return new ChatService({ projects, runtime: await runtime(global), paths, settings: settingsStore, audit, adapter: agentAdapter('claude'), env });
    },
    supervisor: async (global = {}, extra = {}) => {
      const { Supervisor } = await import('./supervisor.js');
      return new Supervisor({ projects, runtime: await runtime(global), settings: settingsStore, audit, paths, ...extra });
    },
  };
}
