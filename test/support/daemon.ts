import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The newest file of a kind (`pid`, `sock`) among a runtime directory's daemons, one per environment: tests run
 * their helpers in one environment, so the newest is theirs.
 */
export function newestDaemonFile(runtimeDir: string, extension: 'pid' | 'sock'): string | undefined {
  let names: string[];
  try {
    names = readdirSync(runtimeDir).filter((name) => name.startsWith('daemon-') && name.endsWith(`.${extension}`));
  } catch {
    return undefined;
  }
  const byAge = names
    .map((name) => {
      try {
        return { path: join(runtimeDir, name), mtime: statSync(join(runtimeDir, name)).mtimeMs };
      } catch {
        return undefined;
      }
    })
    .filter((entry) => entry !== undefined)
    .sort((a, b) => b.mtime - a.mtime);
  return byAge[0]?.path;
}

/** Every daemon pid in a runtime directory's pid files. */
export function daemonPids(runtimeDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(runtimeDir).filter((name) => name.startsWith('daemon-') && name.endsWith('.pid'));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    try {
      const pid = Number.parseInt(readFileSync(join(runtimeDir, name), 'utf8'), 10);
      return Number.isInteger(pid) ? [pid] : [];
    } catch {
      return [];
    }
  });
}

/** The pid of the (newest) daemon of a runtime directory, or undefined. */
export function daemonPid(runtimeDir: string): number | undefined {
  const file = newestDaemonFile(runtimeDir, 'pid');
  if (file === undefined) return undefined;
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Live credrelay daemon processes whose environment points at `runtimeDir`'s session (read from /proc). */
export function daemonProcesses(xdgRuntimeDir: string): number[] {
  return readdirSync('/proc').flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('daemon/main.js')) return [];
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(' ')[2];
      return environ.includes(`XDG_RUNTIME_DIR=${xdgRuntimeDir}`) && state !== 'Z' ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * How many connections the kernel holds at the daemon's end of `socketPath`: accepted ones and those still waiting
 * to be accepted (a stopped daemon's backlog), not counting the listener. From /proc/net/unix, where each such
 * socket carries the listener's path; a test waits on this rather than sleeping until a request "must" be there.
 */
export function connectionsTo(socketPath: string): number {
  const LISTENING = '01';
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(` ${socketPath}`))
    .filter((line) => line.trim().split(/\s+/)[5] !== LISTENING).length;
}
