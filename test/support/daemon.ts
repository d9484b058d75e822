import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The pid in a runtime directory's pid file, or undefined. */
export function daemonPid(runtimeDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(runtimeDir, 'daemon.pid'), 'utf8'), 10);
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
