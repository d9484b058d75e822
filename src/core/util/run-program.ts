import { spawn } from 'node:child_process';

/** What one run of a program printed, and how it ended. */
export interface ProgramRun {
  readonly stdout: string;
  readonly stderr: string;
  /** The program's exit code; null when a signal ended it (or it was killed at the deadline). */
  readonly exitCode: number | null;
  /** It outlived the deadline and was killed, with everything in its process group. */
  readonly timedOut: boolean;
  /** It printed more than the bound; the rest was dropped and the program killed. */
  readonly overflowed: boolean;
}

interface ProgramCall {
  readonly executable: string;
  readonly args: readonly string[];
  /** Written to its stdin, which is then closed. */
  readonly input?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly deadlineMs: number;
  /** Bytes of stdout and stderr together; past it the program is killed. */
  readonly maxOutputBytes: number;
}

/**
 * How long output is still read after the program itself has exited. What it wrote before exiting is already in the
 * pipe and is read within a few event-loop turns; a descendant that keeps the pipe open (`sleep 40 &`, a daemon it
 * spawned with `setsid`) must not hold the answer, so after this the pipes are destroyed. Go's exec.Cmd.WaitDelay,
 * for the same reason.
 */
const EXIT_DRAIN_MS = 250;

/**
 * Runs a program with no shell: `input` on stdin, exactly `env` as its environment, in a process group of its own.
 * It settles when the program exits (and its output is drained), at the deadline (the group is killed and the pipes
 * destroyed), or when its output passes the bound; never later, whatever its descendants do. Rejects only when the
 * program cannot be started.
 */
export function runProgram(call: ProgramCall): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that the deadline ends the program and whatever it started that stayed in the group.
    const child = spawn(call.executable, [...call.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...call.env },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let timedOut = false;
    let overflowed = false;
    let exitCode: number | null = null;
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // already gone, or no group
      }
    };
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(drainTimer);
      // A descendant may still hold the pipes: let go of them, so neither this process nor the descendant waits.
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode,
        timedOut,
        overflowed,
      });
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      exitCode = null;
      killGroup();
      settle();
    }, call.deadlineMs);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (settled) return;
      bytes += chunk.length;
      if (bytes > call.maxOutputBytes) {
        overflowed = true;
        killGroup();
        settle();
        return;
      }
      into.push(chunk);
    };
    let openStreams = 2;
    const streamEnded = () => {
      openStreams -= 1;
      // Both closed after the program exited: nothing more can come.
      if (openStreams === 0 && (child.exitCode !== null || child.signalCode !== null)) settle();
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.stdout.on('end', streamEnded);
    child.stderr.on('end', streamEnded);
    child.stdout.on('error', () => undefined);
    child.stderr.on('error', () => undefined);
    child.stdin.on('error', () => undefined); // a program that exits without reading its stdin
    child.on('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      reject(error);
    });
    child.on('exit', (code) => {
      if (settled) return;
      exitCode = code;
      if (openStreams === 0) settle();
      else drainTimer = setTimeout(settle, EXIT_DRAIN_MS);
    });
    child.stdin.end(call.input ?? '');
  });
}
