import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isCredrelayDaemon, ownPidRecord, readPidRecord } from '../core/util/process.js';

/**
 * Makes this process the one daemon for its runtime directory, through a pid file created exclusively.
 * Returns a release function, or undefined when another live daemon holds it.
 *
 * The file records the pid and when the process started. A pid file left by a daemon that was killed, or naming a
 * live process that is not that daemon (its pid was reused: another program, or one that started later), is taken
 * over. The stale file is first renamed to a name of our own,
 * an atomic step only one contender wins, so two daemons that find the same stale file cannot both take it.
 */
export function acquireInstanceLock(pidPath: string): (() => void) | undefined {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      writeFileSync(pidPath, ownPidRecord(), { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (readPidRecord(pidPath)?.pid === process.pid) rmSync(pidPath, { force: true });
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder;
    try {
      holder = readPidRecord(pidPath) ?? { pid: 0, startedAt: 0 };
      readFileSync(pidPath); // still there
    } catch {
      continue; // Removed while we looked: try again.
    }
    if (holder.pid > 0 && (holder.pid === process.pid || isCredrelayDaemon(holder.pid, holder.startedAt)))
      return undefined;
    const claimed = `${pidPath}.stale.${process.pid}`;
    try {
      renameSync(pidPath, claimed);
      rmSync(claimed, { force: true });
    } catch {
      // Another contender won the rename; the next attempt sees its pid file.
    }
  }
  return undefined;
}
