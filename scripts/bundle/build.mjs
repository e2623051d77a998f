// Bundles the compiled CLI (dist/, from tsc) into dist/bundle/, which
// bin/berth.js runs: one file per command's code path instead of the
// thousand-odd modules Node would otherwise resolve one by one (Ink alone
// imports 415 files of es-toolkit). Code splitting keeps every dynamic
// import lazy, so `--version` still loads neither the TUI nor the engine.
// Left outside: dockerode (ssh2's optional native parts) and systeminformation
// (platform files it requires by name), and cli-table3, required at runtime.
import { build } from 'esbuild';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Chunks are named by their content: those of an earlier build would pile up in the package.
await rm(new URL('dist/bundle/', `file://${root}`), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['dockerode', 'systeminformation', 'cli-table3'],
  alias: { 'react-devtools-core': './scripts/bundle/react-devtools-stub.js' },
  // The production builds of React and its reconciler: a screen that runs all day wants them.
  define: { 'process.env.NODE_ENV': '"production"' },
  // The CommonJS dependencies inside require Node's own modules and read __filename.
  banner: {
    js: [
      "import { createRequire as __berthRequire } from 'node:module';",
      "import { fileURLToPath as __berthPath } from 'node:url';",
      'const require = __berthRequire(import.meta.url);',
      'const __filename = __berthPath(import.meta.url);',
      "const __dirname = __berthPath(new URL('.', import.meta.url));",
    ].join(' '),
  },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
// Which sources each chunk holds: the start-up tests read it.
await writeFile(new URL('dist/bundle/meta.json', `file://${root}`), JSON.stringify(result.metafile));
