/**
 * The environment an agent gets on the host: only what a program needs to
 * find its tools, its home, its locale and the network. berth's own secrets
 * (cloud keys, tokens, BERTH_*) stay with berth; a caller that means to hand
 * one over (e.g. ANTHROPIC_API_KEY) passes it in ExecRequest.env.
 */

/** Variables passed through from berth's environment when they are set. */
export const AGENT_ENV_NAMES: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'TERM',
  'TZ',
  'TMPDIR',
  // Behind a proxy or a TLS-intercepting gateway nothing reaches the network without these.
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
];

/** Prefixes of variables passed through as well: the locale categories. */
export const AGENT_ENV_PREFIXES: readonly string[] = ['LC_'];

export function isPassedToAgent(name: string): boolean {
  return AGENT_ENV_NAMES.includes(name) || AGENT_ENV_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The allowlisted part of `source`, then `extra` on top (it wins). */
export function scrubbedEnv(source: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && isPassedToAgent(name)) env[name] = value;
  }
  return { ...env, ...extra };
}
