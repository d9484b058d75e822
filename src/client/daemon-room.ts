import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CredrelayPaths } from '../core/paths.js';
import { isCredrelayDaemon, readPidFile } from '../core/util/process.js';

/**
 * The most daemons one user runs at once, across all their environments. Each is a Node.js process of 40-60 MiB, so
 * this bounds their memory together (about 250 MiB) whatever a machine does; an environment past the bound is served
 * in-process, with the same answer, only slower.
 */
export const MAX_DAEMONS = 4;
/**
 * A daemon unused for this long may be stopped to make room for another environment's. A daemon marks its use on its
 * pid file's modification time (at most every few seconds, and continually while it holds the file store's key, so
 * that one is never stopped behind the user's back).
 */
export const REAPABLE_AFTER_MS = 60_000;

const PID_FILE = /^daemon-[0-9a-f]{16}\.pid$/;

interface RunningDaemon {
  readonly pid: number;
  readonly pidPath: string;
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
    if (pid === undefined || !isCredrelayDaemon(pid)) continue;
    let lastUsedMs: number;
    try {
      lastUsedMs = statSync(pidPath).mtimeMs;
    } catch {
      continue;
    }
    running.push({ pid, pidPath, socketPath: pidPath.replace(/\.pid$/, '.sock'), lastUsedMs });
  }
  return running.sort((a, b) => a.lastUsedMs - b.lastUsedMs);
}

export type Room =
  { readonly ok: true; readonly stopped?: RunningDaemon } | { readonly ok: false; readonly why: string };

/**
 * Whether another daemon may start for this environment: yes below MAX_DAEMONS; at the bound, after stopping the
 * least recently used daemon if it has been idle for REAPABLE_AFTER_MS (SIGTERM: it forgets its secrets and removes
 * its socket); otherwise no, and the caller serves in-process.
 */
export function makeRoomForDaemon(paths: CredrelayPaths, now = Date.now()): Room {
  const running = otherDaemons(paths);
  if (running.length < MAX_DAEMONS) return { ok: true };
  const oldest = running[0]!;
  if (now - oldest.lastUsedMs < REAPABLE_AFTER_MS) {
    return {
      ok: false,
      why: `${running.length} daemons already serve other environments of this user (at most ${MAX_DAEMONS} run at once), all used within the last ${REAPABLE_AFTER_MS / 1000} s`,
    };
  }
  try {
    process.kill(oldest.pid, 'SIGTERM');
  } catch {
    // Gone meanwhile: the room is there.
  }
  return { ok: true, stopped: oldest };
}
