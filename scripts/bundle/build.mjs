// Bundles the compiled CLI (dist/, from tsc) into dist/bundle/, which
// bin/berth.js runs: one file per command's code path instead of the
// thousand-odd modules Node would otherwise resolve one by one (Ink alone
// imports 415 files of es-toolkit). Code splitting keeps every dynamic
// import lazy, so `--version` still loads neither the TUI nor the engine.
import { build } from 'esbuild';
import { rm, writeFile } from 'node:fs/promises';
import { bundleOptions, packageRoot } from './options.mjs';

const bundleDir = new URL('dist/bundle/', `file://${packageRoot}`);
// Chunks are named by their content: those of an earlier build would pile up in the package.
await rm(bundleDir, { recursive: true, force: true });
const result = await build({ ...bundleOptions, entryPoints: ['dist/cli/main.js'], outdir: 'dist/bundle', sourcemap: 'linked', metafile: true });
// Which sources each chunk holds: the start-up tests read it.
await writeFile(new URL('meta.json', bundleDir), JSON.stringify(result.metafile));
