// The least a full-screen Node program pays on this machine to draw a frame:
// what the first-frame bench (tui-first-frame.ts) sets berth's time against.
// It takes the screen berth settled on (plain text, a file) and shows it the
// way berth does, on the alternate screen with stdin raw, until `q`:
//   node   written to the terminal at once: Node's own start, and no more
//   ink    rendered by Ink, one <Text> per line in a column <Box>: Node's start,
//          Ink, React and yoga loading, and Ink's first render of that text
//          (berth's frame has more nodes and styles: this is a floor)
// The ink program is bundled by the bench as berth is (scripts/bundle/options.mjs),
// so it loads the way berth's TUI does.
import { readFileSync } from 'node:fs';

const [how, frameFile] = process.argv.slice(2);
const lines = readFileSync(frameFile!, 'utf8').split('\n');

process.stdout.write('\u001B[?1049h\u001B[H');
process.stdin.setRawMode(true);
const finish = () => {
  process.stdout.write('\u001B[?1049l');
  process.exit(0);
};
process.stdin.on('data', (key) => String(key).includes('q') && finish());

if (how === 'node') {
  process.stdout.write(lines.join('\r\n'));
} else if (how === 'ink') {
  const [{ render, Box, Text }, { default: React }] = await Promise.all([import('ink'), import('react')]);
  const { createElement } = React;
  render(
    createElement(Box, { flexDirection: 'column' }, ...lines.map((line, index) => createElement(Text, { key: index, wrap: 'truncate' }, line === '' ? ' ' : line))),
    { exitOnCtrlC: false, patchConsole: false },
  );
} else {
  throw new Error(`frame-floor: "node" or "ink", not ${how}`);
}
