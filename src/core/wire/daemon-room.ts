import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CredrelayPaths, SOCKET_SUFFIX } from '../paths.js';
import { isCredrelayDaemon, processStartTicks, readPidRecord, socketInode, unixSockets } from '../util/process.js';

/**
 * The most daemons one user runs at once, across all their environments and runtime directories, unless
 * CREDRELAY_MAX_DAEMONS says otherwise. Each is a Node.js process of 50-65 MiB, so this bounds their memory together
 * (about 250 MiB) whatever a machine does; an environment past the bound is served in-process, with the same
 * answer, only slower.
 */
export const MAX_DAEMONS = 4;

/** The bound in force: CREDRELAY_MAX_DAEMONS (a whole number from 1 to 64), else MAX_DAEMONS. */
export function maxDaemons(env: NodeJS.ProcessEnv = process.env): number {
  const asked = Number(env.CREDRELAY_MAX_DAEMONS);
  return Number.isInteger(asked) && asked >= 1 && asked <= 64 ? asked : MAX_DAEMONS;
}
/**
 * A daemon unused for this long may be stopped to make room for another environment's. A daemon marks its use on its
 * pid file's modification time (at most every few seconds, and continually while it holds the file store's key, so
 * that one is never stopped behind the user's back).
 */
const REAPABLE_AFTER_MS = 60_000;

const PID_FILE = /^daemon-[0-9a-f]{16}\.pid$/;
/** The pid file that holds one of the maxDaemons() slots (src/daemon/slots.ts takes them). */
export const slotPath = (paths: CredrelayPaths, index: number) => join(paths.runtimeDir, `slot-${index}.pid`);

export interface RunningDaemon {
  readonly pid: number;
  /** Where it listens; undefined when it could not be found (it has not bound its socket yet). */
  readonly socketPath: string | undefined;
  readonly lastUsedMs: number;
  /** When it started (the kernel's clock ticks since boot); 0 where there is no /proc. */
  readonly startedAt: number;
}

/**
 * Every other live daemon of this user, least recently used first: those with a pid file in this runtime directory,
 * and on Linux every process of the user that is a credrelay daemon, whatever runtime directory it uses
 * (`XDG_RUNTIME_DIR`, `XDG_CACHE_HOME` and `CREDRELAY_RUNTIME_DIR` move it), found through /proc with the socket it
 * listens on. So the bound, `lock` and `daemon stop --all` reach them all.
 */
export function otherDaemons(paths: CredrelayPaths): RunningDaemon[] {
  const byPid = new Map<number, RunningDaemon>();
  let names: string[];
  try {
    names = readdirSync(paths.runtimeDir);
  } catch {
    names = [];
  }
  for (const name of names) {
    const pidPath = join(paths.runtimeDir, name);
    if (!PID_FILE.test(name) || pidPath === paths.pidPath) continue;
    const record = readPidRecord(pidPath);
    if (record === undefined || record.pid === process.pid || !isCredrelayDaemon(record.pid, record.startedAt))
      continue;
    const { pid } = record;
    try {
      byPid.set(pid, {
        pid,
        socketPath: pidPath.replace(/\.pid$/, '.sock'),
        lastUsedMs: statSync(pidPath).mtimeMs,
        startedAt: processStartTicks(pid),
      });
    } catch {
      // Gone meanwhile.
    }
  }
  const elsewhere = userDaemonProcesses().filter((pid) => !byPid.has(pid));
  const sockets = elsewhere.length > 0 ? unixSockets({ listening: true }) : new Map<string, string>();
  for (const pid of elsewhere) {
    const socketPath = socketOfProcess(pid, sockets);
    let lastUsedMs = Date.now();
    try {
      if (socketPath !== undefined) lastUsedMs = statSync(socketPath.replace(/\.sock$/, '.pid')).mtimeMs;
    } catch {
      // No pid file beside it (socket activation, a deleted directory): taken as in use now, never reaped.
    }
    byPid.set(pid, { pid, socketPath, lastUsedMs, startedAt: processStartTicks(pid) });
  }
  return [...byPid.values()].sort((a, b) => a.lastUsedMs - b.lastUsedMs);
}

/** This user's credrelay daemons other than this process, as /proc shows them; none where there is no /proc. */
export function userDaemonProcesses(): number[] {
  const uid = process.getuid?.();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const pid = Number(entry);
    if (!/^\d+$/.test(entry) || pid === process.pid) return [];
    try {
      if (statSync(`/proc/${entry}`).uid !== uid) return [];
    } catch {
      return [];
    }
    return isCredrelayDaemon(pid) ? [pid] : [];
  });
}

/** The daemon socket a process listens on, from its descriptors; undefined when it has none (yet). */
function socketOfProcess(pid: number, sockets: ReadonlyMap<string, string>): string | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    const inode = socketInode(pid, fd);
    const path = inode === undefined ? undefined : sockets.get(inode);
    if (path !== undefined && path.startsWith('/') && path.endsWith(SOCKET_SUFFIX)) return path;
  }
  return undefined;
}

type Room =
  | { readonly verdict: 'free' }
  | { readonly verdict: 'reap'; readonly daemon: RunningDaemon }
  | { readonly verdict: 'full'; readonly why: string };

/**
 * Whether another daemon fits: below MAX_DAEMONS; at it, when the least recently used one may be stopped. A daemon
 * that is starting counts only the daemons that started before it (`startedBefore`: its own start time and pid), so
 * that of several starting at once in different runtime directories, the later ones give way and the bound holds.
 */
export function roomForDaemon(
  paths: CredrelayPaths,
  now = Date.now(),
  startedBefore?: { readonly ticks: number; readonly pid: number },
): Room {
  const running = otherDaemons(paths).filter(
    (daemon) =>
      startedBefore === undefined ||
      daemon.startedAt < startedBefore.ticks ||
      (daemon.startedAt === startedBefore.ticks && daemon.pid < startedBefore.pid),
  );
  const bound = maxDaemons();
  if (running.length < bound) return { verdict: 'free' };
  const oldest = running[0]!;
  if (now - oldest.lastUsedMs >= REAPABLE_AFTER_MS) return { verdict: 'reap', daemon: oldest };
  return {
    verdict: 'full',
    why: `${running.length} daemons already serve other environments of this user (at most ${bound} run at once), all used within the last ${REAPABLE_AFTER_MS / 1000} s`,
  };
}
