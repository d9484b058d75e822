import { existsSync, statSync } from 'node:fs';
import { requestThroughDaemon } from '../../client/daemon-client.js';
import { DEFAULT_TIMEOUTS, DaemonUnavailable, sendRequest } from '../../core/wire/transport.js';
import type { DaemonStatus, WireOp, WireRequest, WireResult } from '../../core/wire/contract.js';
import { CredrelayError } from '../../core/errors.js';
import { type CredrelayPaths, resolvePaths } from '../../core/paths.js';
import { isCredrelayDaemon, readPidRecord } from '../../core/util/process.js';
import { packageVersion } from '../../core/version.js';

/**
 * Asks the running daemon something on behalf of a command. Never starts one: a status question must not change
 * the answer. Resolves with undefined when no daemon runs.
 */
export async function askDaemon<Op extends WireOp>(
  build: (version: string) => WireRequest<Op>,
): Promise<WireResult<Op> | undefined> {
  const reply = await requestThroughDaemon(build, { start: false, notice: () => undefined });
  if (reply === undefined) return undefined;
  if (!reply.ok) throw new CredrelayError('INTERNAL', `the daemon refused the request: ${reply.message}`);
  return reply.result;
}

/**
 * What is true of this environment's daemon, as `daemon status`, `daemon stop` and `doctor` report it:
 * - `absent`: nothing answers and no daemon process holds the pid file;
 * - `starting`: a client holds the start lock, or the daemon's process is up but not yet listening;
 * - `answering`: it acknowledged a status request, and this is its status;
 * - `not-answering`: something holds the socket or the pid file but does not acknowledge within the ack deadline
 *   (stopped, wedged), or answers in a way no credrelay daemon does.
 */
export type DaemonState =
  | { readonly state: 'absent' }
  | { readonly state: 'starting'; readonly pid?: number }
  | { readonly state: 'answering'; readonly status: DaemonStatus }
  | { readonly state: 'not-answering'; readonly pid?: number; readonly reason: string };

/** A start lock younger than this is a client starting the daemon right now (see launcher.ts). */
const FRESH_LAUNCH_LOCK_MS = 10_000;

export async function probeDaemon(
  paths: CredrelayPaths = resolvePaths(),
  ackMs = DEFAULT_TIMEOUTS.ackMs,
): Promise<DaemonState> {
  const record = readPidRecord(paths.pidPath);
  const daemonPid = record !== undefined && isCredrelayDaemon(record.pid, record.startedAt) ? record.pid : undefined;
  try {
    const reply = await sendRequest(
      paths.socketPath,
      { v: packageVersion(), op: 'status' },
      { ackMs, replyMs: DEFAULT_TIMEOUTS.replyMs },
    );
    if (reply.ok) return { state: 'answering', status: reply.result };
    return {
      state: 'not-answering',
      ...(daemonPid === undefined ? {} : { pid: daemonPid }),
      reason: `it refused a status request (${reply.message})`,
    };
  } catch (error) {
    if (!(error instanceof DaemonUnavailable)) throw error;
    if (error.reason !== 'absent') {
      return { state: 'not-answering', ...(daemonPid === undefined ? {} : { pid: daemonPid }), reason: error.message };
    }
  }
  if (launchLockIsFresh(paths.launchLockPath)) return { state: 'starting', ...(daemonPid ? { pid: daemonPid } : {}) };
  if (daemonPid !== undefined) return { state: 'starting', pid: daemonPid };
  return { state: 'absent' };
}

function launchLockIsFresh(path: string): boolean {
  try {
    return existsSync(path) && Date.now() - statSync(path).mtimeMs < FRESH_LAUNCH_LOCK_MS;
  } catch {
    return false;
  }
}

/** One line on a daemon that does not answer, with what to do. */
export function describeDaemonState(probe: Exclude<DaemonState, { state: 'answering' }>, socketPath: string): string {
  switch (probe.state) {
    case 'absent':
      return `no daemon is running on ${socketPath} (a helper call starts one; or run \`credrelay daemon start\`)`;
    case 'starting':
      return `a daemon is starting on ${socketPath}${probe.pid ? ` (pid ${probe.pid})` : ''}; ask again in a moment`;
    case 'not-answering':
      return `the daemon${probe.pid ? ` (pid ${probe.pid})` : ''} on ${socketPath} does not answer: ${probe.reason} (stopped or wedged); run \`credrelay daemon stop\`, which ends it, and the next helper call starts a fresh one`;
  }
}
