// The esbuild options of berth's bundle (build.mjs), shared with the benches
// that bundle a program of their own the same way (bench/frame-floor.ts).
// Left outside: dockerode (ssh2's optional native parts) and systeminformation
// (platform files it requires by name), and cli-table3, required at runtime.
import { fileURLToPath } from 'node:url';

export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

export const bundleOptions = {
  absWorkingDir: packageRoot,
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
  logLevel: 'warning',
};
