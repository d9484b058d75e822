import { spawn } from 'node:child_process';

/** What one run of a credential helper printed, and how it ended. */
export interface HelperRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  /** It outlived the deadline and was killed. */
  readonly timedOut: boolean;
  /** It printed more than the bound; the rest was dropped and the helper killed. */
  readonly overflowed: boolean;
}

/** A credential is a few KiB; a helper that prints a megabyte is broken. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * Runs a credential helper: no shell, `input` on stdin, `env` as its environment. Killed at the
 * deadline, or as soon as its output passes MAX_OUTPUT_BYTES.
 */
export function runHelper(
  executable: string,
  action: string,
  input: string,
  deadlineMs: number,
  env: Readonly<Record<string, string>>,
): Promise<HelperRun> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a deadline ends the helper and whatever it started (a shell's children hold
    // its output open).
    const child = spawn(executable, [action], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
    const killAll = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // already gone, or no group
      }
    };
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let timedOut = false;
    let overflowed = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killAll();
    }, deadlineMs);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT_BYTES) {
        overflowed = true;
        killAll();
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.stdin.on('error', () => undefined); // a helper that exits without reading its stdin
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode,
        timedOut,
        overflowed,
      });
    });
    child.stdin.end(input);
  });
}
