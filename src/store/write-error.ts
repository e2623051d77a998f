import { BerthError } from '../domain/errors.js';

/**
 * A failed write to one of berth's files, as the one line a user reads:
 * `cannot write <file>: no space left on device`. Only the system's errors
 * (a full disk, a read-only or vanished folder, a permission) are put so;
 * anything else (a BerthError from the change itself) passes as it is.
 */
export function cannotWrite(file: string, error: unknown): unknown {
  if (!isSystemError(error)) return error;
  // "ENOSPC: no space left on device, write" → "no space left on device".
  const reason = /^[A-Z0-9]+: ([^,]+)/.exec(error.message)?.[1] ?? error.code;
  return new BerthError(`cannot write ${file}: ${reason}`);
}

/** Runs a write of `file`; its failure is cannotWrite's. */
export async function writing<T>(file: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw cannotWrite(file, error);
  }
}

/** The same, for a synchronous write. */
export function writingSync<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw cannotWrite(file, error);
  }
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string' && typeof (error as NodeJS.ErrnoException).code === 'string';
}
