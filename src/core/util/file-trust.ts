import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Why a file credrelay would trust (its configuration, a plugin it runs, a job token, its own unpacked code) may
 * have been written by someone else, or undefined when it cannot have been. As ssh does for its own files: the file
 * and every directory on its real path must belong to the user or to root, and be writable by nobody else. A
 * directory others can write is accepted only when it is sticky (like /tmp), where they cannot replace an entry they
 * do not own.
 *
 * A path that does not exist is not trusted for being absent: someone else could create it between this check and
 * its use. It passes only when nobody else can create it, that is when the deepest directory that exists above it
 * is one nobody else can write (sticky or not: in /tmp anyone may create a missing name), under trusted ancestors.
 */
export function untrustedReason(path: string): { reason: string; fix: string } | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // Windows: ACLs, not modes
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return absentPathReason(resolve(path), uid);
  }
  return chainReason(real, uid, false);
}

/** The deepest existing directory above a missing path, checked so that nobody else could create the path. */
function absentPathReason(path: string, uid: number): { reason: string; fix: string } | undefined {
  for (let current = dirname(path); ; current = dirname(current)) {
    let real: string;
    try {
      real = realpathSync(current);
    } catch {
      if (dirname(current) === current) return undefined;
      continue;
    }
    const found = chainReason(real, uid, true);
    return found === undefined
      ? undefined
      : { reason: `${path} does not exist, and ${found.reason}, so someone else could create it`, fix: found.fix };
  }
}

/** The first directory (or the file) on a real path that someone else owns or can write; `strictFirst` refuses a
 * sticky first directory too. */
function chainReason(real: string, uid: number, strictFirst: boolean): { reason: string; fix: string } | undefined {
  for (let current = real, first = true; ; current = dirname(current), first = false) {
    const stats = statSync(current);
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
    if (stats.uid !== uid && stats.uid !== 0) {
      return {
        reason: `${current} belongs to uid ${stats.uid}, not to you (uid ${uid}) or root`,
        fix: `move it somewhere of your own, or chown it`,
      };
    }
    const sticky = stats.isDirectory() && (stats.mode & 0o1000) !== 0 && !(first && strictFirst);
    if ((stats.mode & 0o022) !== 0 && !sticky) {
      return { reason: `${current} can be written by others (mode ${mode})`, fix: `chmod go-w ${current}` };
    }
    if (dirname(current) === current) return undefined;
  }
}

/** What readTokenFile found: the token, or why the file is not used (`missing`: the path does not resolve). */
export type TokenFileRead =
  | { readonly token: string }
  | { readonly missing: string }
  | { readonly refused: { readonly reason: string; readonly fix: string } };

/**
 * Reads a small secret file someone else writes for the user (a CI job's OIDC token, a Vault token) without trusting
 * more than it must: its real path must be trusted (untrustedReason), it is opened without following a last link and
 * without blocking (a FIFO planted at the path would hang the daemon), and it must be a regular file of the user's or
 * root's, writable by nobody else, of at most `limit.bytes`. Trimmed. `limit.what` names the token in messages (an ID
 * token), `fix` says where the file should point when it is not a regular one.
 */
export function readTokenFile(
  path: string,
  limit: { readonly bytes: number; readonly what: string },
  fix: string,
): TokenFileRead {
  const refused = (reason: string, fix: string): TokenFileRead => ({ refused: { reason, fix } });
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    return { missing: (error as NodeJS.ErrnoException).code ?? 'error' };
  }
  const untrusted = untrustedReason(real);
  if (untrusted !== undefined) return { refused: untrusted };
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    return refused(
      `it cannot be opened (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      'check its permissions',
    );
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return refused('it is not a regular file', fix);
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid && stats.uid !== 0)
      return refused(
        `it belongs to uid ${stats.uid}, not to you (uid ${uid}) or root`,
        'chown it, or have the platform write it as you',
      );
    if ((stats.mode & 0o022) !== 0)
      return refused(`others can write it (mode ${(stats.mode & 0o777).toString(8)})`, `chmod go-w ${real}`);
    if (stats.size > limit.bytes)
      return refused(`it holds ${stats.size} bytes, more than ${limit.what}`, 'check the path');
    const buffer = Buffer.alloc(limit.bytes + 1);
    let length = 0;
    for (let read = 1; read > 0 && length < buffer.length; length += read)
      read = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > limit.bytes)
      return refused(`it grew past the size of ${limit.what} while being read`, 'check the path');
    return { token: buffer.subarray(0, length).toString('utf8').trim() };
  } finally {
    closeSync(fd);
  }
}
