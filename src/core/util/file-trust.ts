import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Why a file credrelay would trust (its configuration, a plugin it runs) may have been written by someone else, or
 * undefined when it cannot have been. As ssh does for its own files: the file and every directory on its real path
 * must belong to the user or to root, and be writable by nobody else. A directory others can write is accepted only
 * when it is sticky (like /tmp), where they cannot replace an entry they do not own.
 */
export function untrustedReason(path: string): { reason: string; fix: string } | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // Windows: ACLs, not modes
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined; // a missing file is read as missing, elsewhere
  }
  for (let current = real; ; current = dirname(current)) {
    const stats = statSync(current);
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
    if (stats.uid !== uid && stats.uid !== 0) {
      return {
        reason: `${current} belongs to uid ${stats.uid}, not to you (uid ${uid}) or root`,
        fix: `move it somewhere of your own, or chown it`,
      };
    }
    const sticky = stats.isDirectory() && (stats.mode & 0o1000) !== 0;
    if ((stats.mode & 0o022) !== 0 && !sticky) {
      return { reason: `${current} can be written by others (mode ${mode})`, fix: `chmod go-w ${current}` };
    }
    if (dirname(current) === current) return undefined;
  }
}
