import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { resolvePaths } from '../../src/core/paths.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN_DIR = join(REPO_ROOT, 'bin');
export const HELPER = join(BIN_DIR, 'docker-credential-credrelay');
/** The Node client itself: what the launcher above runs where no native client fits, and what node can load. */
export const NODE_CLIENT = join(BIN_DIR, 'docker-credential-credrelay-node');
export const CLI = join(BIN_DIR, 'credrelay');
/** credrelay's version, as every reply and the wire carry it; and the same as a regular expression's source. */
export const VERSION: string = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version;
export const VERSION_PATTERN = VERSION.replace(/\./g, '\\.');

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/**
 * A PATH with nothing on it but `node`: for "the helper is not on PATH" cases, which must hold even on a machine
 * where credrelay is installed globally (system directories may hold it).
 */
export function pathWithOnlyNode(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const link = join(dir, 'node');
  if (!existsSync(link)) symlinkSync(process.execPath, link);
  return dir;
}

/** PATH with credrelay's bin/ first, so Docker, skopeo and Go's client find `docker-credential-credrelay`. */
export const pathWithCredrelay = (): string => `${BIN_DIR}${delimiter}${process.env.PATH ?? ''}`;

/** The environment `run` gives a command, for computing what the command will compute from it. */
export const helperEnvironment = (
  env: Record<string, string | undefined> = {},
): Record<string, string | undefined> => ({
  ...process.env,
  PATH: pathWithCredrelay(),
  ...env,
});

/** The socket of the daemon that serves helpers run with `env` (one daemon per environment). */
export const daemonSocketFor = (env: Record<string, string | undefined>): string =>
  resolvePaths(helperEnvironment(env)).socketPath;

/** The pid of the daemon that serves helpers run with `env`, from its pid file, or undefined. */
export function daemonPidFor(env: Record<string, string | undefined>): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(resolvePaths(helperEnvironment(env)).pidPath, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `command` with `input` on stdin and collects its output; fails the test if it outlives `timeoutMs`. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string | Buffer; env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      env: helperEnvironment(options.env),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 20_000} ms`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(), code });
    });
    child.stdin.on('error', () => undefined); // The helper may exit before reading all of a huge input.
    child.stdin.end(options.input ?? '');
  });
}

/** Runs one protocol action of the credrelay helper binary. */
export const runHelper = (
  action: string,
  input: string | Buffer,
  env: Record<string, string | undefined>,
  extraArgs: readonly string[] = [],
): Promise<RunResult> => run(HELPER, [action, ...extraArgs], { input, env });
