import { mkdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CredrelayPaths } from '../core/paths.js';
import { ensureRuntimeDir } from '../core/wire/runtime-dir.js';
import { isListening } from '../core/wire/transport.js';

/** A start lock older than this belongs to a client that died while starting the daemon. */
const STALE_LAUNCH_LOCK_MS = 10_000;

/**
 * V8's young generation, a few MiB rather than its default of up to 32: the daemon's garbage is small and
 * short-lived (one request, one token exchange), and a large nursery only holds it longer, in resident memory.
 */
const DAEMON_NODE_FLAGS = ['--max-semi-space-size=2'];

/**
 * Starts the daemon if nobody else is, and waits (bounded) until it accepts connections.
 *
 * Many helper processes start at once (a build asking for many registries); they must start exactly one daemon.
 * The lock is a directory, because mkdir is atomic on every file system and needs no extra module; the one client
 * that creates it starts the daemon, the others only wait. The daemon itself also refuses to run twice (its pid
 * file), which covers `credrelay daemon start` racing a client.
 *
 * Returns whether the daemon is accepting connections at the end.
 */
export async function launchDaemon(paths: CredrelayPaths, waitMs = 2000): Promise<boolean> {
  if (ensureRuntimeDir(paths.runtimeDir, paths.socketPath).state !== 'safe') return false;
  const owner = takeLaunchLock(paths.launchLockPath);
  let starting: { exitCode: number | null; signalCode: string | null } | undefined;
  let listening = false;
  try {
    // Another client may have started the daemon between our failed connect and our lock: look again first.
    if (owner && !(await isListening(paths.socketPath))) {
      const { spawn } = await import('node:child_process');
      const daemonMain = fileURLToPath(new URL('../daemon/main.js', import.meta.url));
      const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, daemonMain], {
        detached: true,
        stdio: 'ignore',
        env: paths.daemonEnvironment,
        // Not the first caller's directory, which may go away; relative paths in variables are not supported.
        cwd: '/',
      });
      child.on('error', () => undefined);
      child.unref();
      starting = child;
    }
    // A daemon that exits (it found no room, or another serves) ends the wait: there is nothing to wait for.
    const exited = () => starting !== undefined && (starting.exitCode !== null || starting.signalCode !== null);
    listening = await waitForSocket(paths.socketPath, true, waitMs, exited);
    return listening;
  } finally {
    // A daemon still starting after our wait (a loaded machine) keeps the lock, and removes it once it listens:
    // released now, the next client would start a second daemon beside it. A daemon that dies first leaves a lock
    // that goes stale.
    const stillStarting = !listening && starting?.exitCode === null && starting.signalCode === null;
    if (owner && !stillStarting) rmSync(paths.launchLockPath, { recursive: true, force: true });
  }
}

function takeLaunchLock(lockPath: string): boolean {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      mkdirSync(lockPath, { mode: 0o700 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      try {
        if (Date.now() - statSync(lockPath).mtimeMs < STALE_LAUNCH_LOCK_MS) return false;
        rmSync(lockPath, { recursive: true, force: true });
      } catch {
        return false;
      }
    }
  }
  return false;
}

/** Waits until something listens on the socket (`listening` true) or nothing does (false); whether it happened in time. */
async function waitForSocket(
  socketPath: string,
  listening: boolean,
  waitMs: number,
  giveUp: () => boolean = () => false,
): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if ((await isListening(socketPath)) === listening) return true;
    if (Date.now() >= deadline || giveUp()) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const waitUntilGone = (socketPath: string, waitMs: number) => waitForSocket(socketPath, false, waitMs);
