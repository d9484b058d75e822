import { readFileSync } from 'node:fs';

/** Whether a process exists (one of another user's counts: signalling it is merely not allowed). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a live process is a credrelay daemon, by its command line: `node …/daemon/main.js` as the helper starts
 * it, or `… credrelay daemon run`. A pid file can outlive its daemon and name a process that reused the pid; that
 * process must neither block a new daemon nor be signalled. Where there is no /proc (macOS), a live pid is taken
 * for the daemon, as before.
 */
export function isCredrelayDaemon(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform !== 'linux';
  }
  const words = commandLine.split('\0');
  if (words.some((word) => word.endsWith('/daemon/main.js'))) return true;
  const run = words.indexOf('daemon');
  return run > 0 && words[run + 1] === 'run' && words.slice(0, run).some((word) => /credrelay/.test(word));
}

/** The pid a pid file names, or undefined. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
