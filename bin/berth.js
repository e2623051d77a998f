#!/usr/bin/env node
// The berth command: a few lines that load the bundled CLI (npm run build:
// tsc, then scripts/bundle/build.mjs). Kept tiny so that --version and --help
// start fast; the TUI (ink, react) is imported lazily.
import { existsSync } from 'node:fs';

// Deprecation notices of dependencies (docker-modem over ssh) are for their
// authors, and would print over the full-screen UI.
process.noDeprecation = true;

const entry = new URL('../dist/bundle/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('berth: not built yet: run npm install (or npm run build) in the berth folder\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
