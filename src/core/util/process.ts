import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Whether a process exists (one of another user's counts: signalling it is merely not allowed). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The daemon's entry in a package, as the client starts it: `node [flags] <package>/dist/src/daemon/main.js`. */
const DAEMON_ENTRY = join('dist', 'src', 'daemon', 'main.js');

/**
 * Whether a live process is a credrelay daemon: its executable is Node (or credrelay's single executable) and its
 * command line runs exactly a credrelay package's daemon entry (`<package>/dist/src/daemon/main.js`, the package's
 * package.json naming credrelay) or its CLI's `daemon run`. With `startedAt` (from the daemon's pid file), the
 * process must also have started then: a pid file can outlive its daemon and name a process that reused the pid,
 * and that process must neither block a new daemon nor be signalled. Where there is no /proc (macOS), a live pid is
 * taken for the daemon, as before; on Linux a process that cannot be looked at is never one.
 */
export function isCredrelayDaemon(pid: number, startedAt?: number): boolean {
  if (!isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  let words: string[];
  let executable: string;
  try {
    words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    executable = executableName(pid);
  } catch {
    // Gone meanwhile, or a process whose executable we may not see (another user's, the machine's init): not ours.
    return false;
  }
  if (startedAt !== undefined && startedAt !== 0 && processStartTicks(pid) !== startedAt) return false;
  const isNode = /^node(js)?[\d.]*$/.test(executable);
  // The single executable runs as itself (credrelay, docker-credential-credrelay, or a name the user gave it): its
  // daemon is `EXECUTABLE [flags] <unpacked package>/dist/src/daemon/main.js`, checked like Node's.
  const entry = words.slice(1).find((word) => !word.startsWith('-'));
  if (entry !== undefined && entry.endsWith(`/${DAEMON_ENTRY}`))
    return isCredrelayPackage(entry.slice(0, -DAEMON_ENTRY.length - 1));
  // `credrelay daemon run`: Node running the package's bin/credrelay, or the single executable itself.
  const run = words.indexOf('daemon');
  if (run < 1 || words[run + 1] !== 'run') return false;
  if (isNode) {
    const launcher = words[run - 1]!;
    if (basename(launcher) !== 'credrelay') return false;
    try {
      return isCredrelayPackage(dirname(dirname(realpathSync(launcher))));
    } catch {
      return false;
    }
  }
  return run === 1 && executable !== '' && !isNode && /credrelay/.test(executable);
}

/** Whether a directory is a credrelay package: its package.json names credrelay. */
function isCredrelayPackage(root: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown }).name === 'credrelay';
  } catch {
    return false;
  }
}

/**
 * The file name of a process's executable (/proc/PID/exe, without the kernel's " (deleted)" for one replaced on disk,
 * as an upgrade does). Throws where the process is gone or not ours to look at.
 */
export function executableName(pid: number): string {
  return basename(readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, ''));
}

/**
 * The kernel's table of Unix sockets (/proc/net/unix): inode -> the path it is bound to ('' for an unbound one).
 * `listening`: only listening sockets (flag __SO_ACCEPTCON). Empty where there is no /proc.
 */
export function unixSockets(options: { readonly listening: boolean }): Map<string, string> {
  const sockets = new Map<string, string>();
  try {
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      // Num RefCount Protocol Flags Type St Inode Path
      const fields = line.trim().split(/\s+/);
      if (fields.length < 7 || (options.listening && fields[3] !== '00010000')) continue;
      sockets.set(fields[6]!, fields.slice(7).join(' '));
    }
  } catch {
    // Not Linux.
  }
  return sockets;
}

/** The inode of the socket a process's descriptor holds (/proc/PID/fd/FD is `socket:[INODE]`), or undefined. */
export function socketInode(pid: number | 'self', fd: number | string): string | undefined {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
  } catch {
    return undefined; // closed meanwhile, or no /proc
  }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat); 0 when unknown. */
export function processStartTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]) || 0;
  } catch {
    return 0;
  }
}

/** What a daemon's pid file says: its pid, and when that process started (0 in a file of an older version). */
export interface PidRecord {
  readonly pid: number;
  readonly startedAt: number;
}

/** This process as a pid file records it: `PID START_TICKS`. */
export const ownPidRecord = (): string => `${process.pid} ${processStartTicks(process.pid)}\n`;

/** The pid and start time a pid file names, or undefined. */
export function readPidRecord(path: string): PidRecord | undefined {
  try {
    const [pidText, startText] = readFileSync(path, 'utf8').trim().split(/\s+/);
    const pid = Number.parseInt(pidText ?? '', 10);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const startedAt = Number.parseInt(startText ?? '0', 10);
    return { pid, startedAt: Number.isInteger(startedAt) && startedAt > 0 ? startedAt : 0 };
  } catch {
    return undefined;
  }
}
