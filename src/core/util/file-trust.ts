import { realpathSync, statSync } from 'node:fs';
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
