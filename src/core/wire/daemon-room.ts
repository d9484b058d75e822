import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CredrelayPaths } from '../paths.js';
import { isCredrelayDaemon, readPidFile } from '../util/process.js';

/**
 * The most daemons one user runs at once, across all their environments. Each is a Node.js process of 50-65 MiB, so
 * this bounds their memory together (about 250 MiB) whatever a machine does; an environment past the bound is served
 * in-process, with the same answer, only slower.
 */
export const MAX_DAEMONS = 4;
/**
 * A daemon unused for this long may be stopped to make room for another environment's. A daemon marks its use on its
 * pid file's modification time (at most every few seconds, and continually while it holds the file store's key, so
 * that one is never stopped behind the user's back).
 */
const REAPABLE_AFTER_MS = 60_000;

const PID_FILE = /^daemon-[0-9a-f]{16}\.pid$/;
/** The pid file that holds one of the MAX_DAEMONS slots (src/daemon/slots.ts takes them). */
export const slotPath = (paths: CredrelayPaths, index: number) => join(paths.runtimeDir, `slot-${index}.pid`);

export interface RunningDaemon {
  readonly pid: number;
  readonly socketPath: string;
  readonly lastUsedMs: number;
}

/** The user's other live daemons in this runtime directory, least recently used first. */
export function otherDaemons(paths: CredrelayPaths): RunningDaemon[] {
  let names: string[];
  try {
    names = readdirSync(paths.runtimeDir);
  } catch {
    return [];
  }
  const running: RunningDaemon[] = [];
  for (const name of names) {
    const pidPath = join(paths.runtimeDir, name);
    if (!PID_FILE.test(name) || pidPath === paths.pidPath) continue;
    const pid = readPidFile(pidPath);
    if (pid === undefined || pid === process.pid || !isCredrelayDaemon(pid)) continue;
    try {
      running.push({ pid, socketPath: pidPath.replace(/\.pid$/, '.sock'), lastUsedMs: statSync(pidPath).mtimeMs });
    } catch {
      // Gone meanwhile.
    }
  }
  return running.sort((a, b) => a.lastUsedMs - b.lastUsedMs);
}

type Room =
  | { readonly verdict: 'free' }
  | { readonly verdict: 'reap'; readonly daemon: RunningDaemon }
  | { readonly verdict: 'full'; readonly why: string };

/** Whether another daemon fits: below MAX_DAEMONS; at it, when the least recently used one may be stopped. */
export function roomForDaemon(paths: CredrelayPaths, now = Date.now()): Room {
  const running = otherDaemons(paths);
  if (running.length < MAX_DAEMONS) return { verdict: 'free' };
  const oldest = running[0]!;
  if (now - oldest.lastUsedMs >= REAPABLE_AFTER_MS) return { verdict: 'reap', daemon: oldest };
  return {
    verdict: 'full',
    why: `${running.length} daemons already serve other environments of this user (at most ${MAX_DAEMONS} run at once), all used within the last ${REAPABLE_AFTER_MS / 1000} s`,
  };
}
