/**
 * Chat transcripts: `<transcripts>/<project>/<session>.jsonl`, one JSON line
 * per event, appended as the event arrives.
 *
 * Each line is one synchronous write to a file opened for appending, made
 * before the event is shown anywhere: a crash of berth, even kill -9, loses
 * at most the line being written, never a line that was already shown.
 *
 * A conversation's file is named by the agent CLI's session id. The first
 * turn of a conversation starts before the CLI has announced one, so it is
 * written to a provisional file, `pending.<time>.<random>.jsonl`, renamed to
 * `<session>.jsonl` when the session event comes (the rename is atomic, and
 * the open descriptor follows it). A turn that never learns its session (the
 * CLI did not start, say) keeps its provisional file, read back as a session
 * of its own. The dots keep the two kinds apart: a session id never has one.
 *
 * Turns are numbered per project, across sessions, so that entries from all
 * files read back in one order.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ChatEvent, TranscriptEntry } from '../domain/chat.js';
import { BerthError } from '../domain/errors.js';
import { checkProjectName } from '../domain/project.js';
import { cannotWrite, writing, writingSync } from './write-error.js';

export interface TranscriptSession {
  /** The agent CLI's session id, or null for a turn that never learnt one. */
  sessionId: string | null;
  file: string;
  entries: TranscriptEntry[];
  /** Lines that are not whole entries: the line a crash cut short, or damage by hand. */
  skippedLines: number;
}

const EXTENSION = '.jsonl';
const PROVISIONAL_PREFIX = 'pending.';
/** What a session id may be to name a file: CLI session ids are UUIDs. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** How much of a file's end is read first to find its last turn; doubled while no whole line is found. */
const TAIL_BYTES = 16_384;

export function isSafeSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

export class TranscriptStore {
  constructor(readonly root: string) {}

  /** The folder of one project's transcripts. */
  folder(project: string): string {
    return path.join(this.root, checkProjectName(project));
  }

  /**
   * Opens the transcript of a new turn: the file of `sessionId` when the turn
   * continues a conversation, else a provisional file.
   */
  async beginTurn(project: string, sessionId: string | null): Promise<TurnTranscript> {
    const folder = this.folder(project);
    await writing(folder, () => mkdir(folder, { recursive: true, mode: 0o700 }));
    const turn = (await lastTurn(folder)) + 1;
    const known = sessionId !== null && isSafeSessionId(sessionId) ? sessionId : null;
    const file = path.join(folder, known === null ? provisionalName() : `${known}${EXTENSION}`);
    return new TurnTranscript(folder, file, turn, known);
  }

  /** Every session of a project, the oldest first; a missing folder is no sessions. */
  async sessions(project: string): Promise<TranscriptSession[]> {
    const folder = this.folder(project);
    const sessions: TranscriptSession[] = [];
    for (const name of await transcriptFiles(folder)) {
      const file = path.join(folder, name);
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        // Renamed from provisional between the listing and the read: its lines are read under the new name.
        if (error.code === 'ENOENT') return undefined;
        throw new BerthError(`cannot read the transcript ${file}: ${error.message}`);
      });
      if (text === undefined) continue;
      const { entries, skippedLines } = parseTranscript(text);
      if (entries.length === 0 && skippedLines === 0) continue;
      sessions.push({ sessionId: sessionIdOf(name), file, entries, skippedLines });
    }
    return sessions.sort((a, b) => firstTurn(a) - firstTurn(b));
  }

  /**
   * Ends a turn that its berth process left unfinished (it was killed): an
   * error saying so, then the turn_end, in the file that holds the turn;
   * nothing (false) when the turn has ended already or was never written.
   */
  async endInterruptedTurn(project: string, turn: number, message: string): Promise<boolean> {
    const session = (await this.sessions(project)).find((candidate) => candidate.entries.some((entry) => entry.turn === turn));
    if (!session || session.entries.some((entry) => entry.turn === turn && entry.type === 'turn_end')) return false;
    const transcript = new TurnTranscript(this.folder(project), session.file, turn, session.sessionId);
    try {
      transcript.append({ type: 'error', message });
      transcript.append({ type: 'turn_end', outcome: 'interrupted', sessionId: session.sessionId });
      return true;
    } finally {
      transcript.close();
    }
  }

  /** Every entry of a project, in the order the turns ran. */
  async entries(project: string): Promise<TranscriptEntry[]> {
    const entries = (await this.sessions(project)).flatMap((session) => session.entries);
    // Stable: the entries of one turn are in one file, in the order they were written.
    return entries.sort((a, b) => a.turn - b.turn);
  }
}

/** The transcript of one turn, written line by line. */
export class TurnTranscript {
  private fd: number | undefined;
  /** Where this turn's lines begin in the file, once it is open. */
  private turnStart = 0;

  constructor(
    private readonly folder: string,
    private currentFile: string,
    readonly turn: number,
    private currentSessionId: string | null,
  ) {}

  get file(): string {
    return this.currentFile;
  }

  get sessionId(): string | null {
    return this.currentSessionId;
  }

  /**
   * Writes one event as a line, stamped with the time and the turn, and
   * returns the entry. A session event (or a turn_end naming the session)
   * first gives a provisional file its session's name.
   */
  append(event: ChatEvent, time: Date = new Date()): TranscriptEntry {
    const announced = event.type === 'session' ? event.sessionId : event.type === 'turn_end' ? event.sessionId : null;
    const entry = { ...event, time: time.toISOString(), turn: this.turn } as TranscriptEntry;
    try {
      if (announced !== null) this.adopt(announced);
      appendLine(this.open(), Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8'));
    } catch (error) {
      throw cannotWrite(this.currentFile, error);
    }
    return entry;
  }

  /**
   * The turn leaves the conversation it was to continue (the agent no longer
   * knows it) for a new one: its lines so far move to a provisional file,
   * named by the new session when it is announced; the old file is left as
   * it was before the turn.
   */
  leaveSession(): void {
    if (this.currentSessionId === null) return;
    const provisional = path.join(this.folder, provisionalName());
    if (this.fd !== undefined) {
      const lines = Buffer.alloc(fstatSync(this.fd).size - this.turnStart);
      readSync(this.fd, lines, 0, lines.length, this.turnStart);
      // Copied before they are cut from the old file: a crash in between leaves them twice, never nowhere.
      writingSync(provisional, () => {
        const copy = openSync(provisional, 'a', 0o600);
        try {
          writeWhole(copy, lines);
        } finally {
          closeSync(copy);
        }
      });
      ftruncateSync(this.fd, this.turnStart);
      this.close();
    }
    this.currentFile = provisional;
    this.currentSessionId = null;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    // a+: appends, and reads the last byte to mend a line a crash cut short.
    const fd = openSync(this.currentFile, 'a+', 0o600);
    try {
      endCutLine(fd);
      this.turnStart = fstatSync(fd).size;
    } catch (error) {
      closeSync(fd);
      throw cannotWrite(this.currentFile, error);
    }
    return (this.fd = fd);
  }

  /** Moves a provisional file to its session's name; a file that has a session keeps it. */
  private adopt(sessionId: string): void {
    if (this.currentSessionId !== null || !isSafeSessionId(sessionId)) return;
    const target = path.join(this.folder, `${sessionId}${EXTENSION}`);
    this.currentSessionId = sessionId;
    if (this.fd === undefined && !existsSync(this.currentFile)) {
      this.currentFile = target;
      return;
    }
    if (!existsSync(target)) {
      renameSync(this.currentFile, target);
      this.currentFile = target;
      return;
    }
    // The session has a file already (its id was not known when the turn began): move this turn's lines into it.
    const lines = readFileSync(this.currentFile);
    const provisional = this.currentFile;
    this.close();
    this.currentFile = target;
    if (lines.length > 0) writeWhole(this.open(), lines);
    unlinkSync(provisional);
  }
}

/** The entries in a transcript's text; a line that is not a whole entry is counted, not thrown. */
export function parseTranscript(text: string): { entries: TranscriptEntry[]; skippedLines: number } {
  const entries: TranscriptEntry[] = [];
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const entry = parseEntry(line);
    if (entry) entries.push(entry);
    else skippedLines += 1;
  }
  return { entries, skippedLines };
}

function parseEntry(line: string): TranscriptEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { type, time, turn } = value as Record<string, unknown>;
  if (typeof type !== 'string' || typeof time !== 'string' || typeof turn !== 'number' || !Number.isInteger(turn)) return undefined;
  return value as TranscriptEntry;
}

function provisionalName(): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  return `${PROVISIONAL_PREFIX}${stamp}.${randomBytes(4).toString('hex')}${EXTENSION}`;
}

function sessionIdOf(fileName: string): string | null {
  if (fileName.startsWith(PROVISIONAL_PREFIX)) return null;
  const id = fileName.slice(0, -EXTENSION.length);
  return isSafeSessionId(id) ? id : null;
}

async function transcriptFiles(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((name) => name.endsWith(EXTENSION)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function firstTurn(session: TranscriptSession): number {
  return session.entries[0]?.turn ?? Number.MAX_SAFE_INTEGER;
}

/** The highest turn number in a project's transcripts, 0 when there is none. */
async function lastTurn(folder: string): Promise<number> {
  let last = 0;
  for (const name of await transcriptFiles(folder)) {
    last = Math.max(last, await lastTurnOfFile(path.join(folder, name)));
  }
  return last;
}

/** Files are appended to, so the last whole entry holds the file's highest turn: only the end is read. */
async function lastTurnOfFile(file: string): Promise<number> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return 0;
  try {
    const { size } = await handle.stat();
    for (let window = TAIL_BYTES; ; window *= 2) {
      const start = Math.max(0, size - window);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      // Lines are read from the last one back; the first line of a partial window may be cut, so it is not trusted.
      const lines = buffer.toString('utf8').split('\n');
      const whole = start === 0 ? lines : lines.slice(1);
      for (let index = whole.length - 1; index >= 0; index -= 1) {
        const entry = parseEntry(whole[index]!);
        if (entry) return entry.turn;
      }
      if (start === 0) return 0;
    }
  } finally {
    await handle.close();
  }
}

/** A file that a crash left without a final newline gets one, so the next line does not fuse with the cut one. */
function endCutLine(fd: number): void {
  const { size } = fstatSync(fd);
  if (size === 0) return;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] !== 0x0a) writeWhole(fd, Buffer.from('\n'));
}

/** A whole line, or nothing: one cut short (a full disk) is taken back, so the next does not fuse with it. */
function appendLine(fd: number, line: Buffer): void {
  const size = fstatSync(fd).size;
  try {
    writeWhole(fd, line);
  } catch (error) {
    ftruncateSync(fd, size);
    throw error;
  }
}

function writeWhole(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}
