import { nodeCrypto } from './crypto.js';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces `path` with `content`, so that a reader sees the old file or the new one, never half of one, and so that a
 * link planted where we write is never written through: a new file beside `path`, created exclusively under a random
 * name (O_EXCL does not follow links), its mode set through its own descriptor (the umask may have narrowed it),
 * written and fsync'd, then renamed over `path` (a rename replaces a link), and the directory fsync'd so the rename
 * reaches the disk too.
 */
export function replaceFileAtomically(path: string, content: string | Buffer, mode: number): void {
  const temporary = `${path}.${nodeCrypto().randomBytes(8).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temporary, { force: true });
    throw error;
  }
  const directory = openSync(dirname(path), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}
