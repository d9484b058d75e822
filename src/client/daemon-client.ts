import type { ProtocolReply } from '../core/protocol/handler.js';
import { type CredrelayPaths, resolvePaths } from '../core/paths.js';
import { packageVersion } from '../core/version.js';
import { type ServiceRequest, type WireOp, type WireReply, type WireRequest, toWire } from '../core/wire/contract.js';
import { ensureRuntimeDir, inspectRuntimeDir } from '../core/wire/runtime-dir.js';
import { type CallTimeouts, DEFAULT_TIMEOUTS, DaemonUnavailable, sendRequest } from '../core/wire/transport.js';
import { roomForDaemon } from '../core/wire/daemon-room.js';
import { launchDaemon, waitUntilGone } from './launcher.js';

interface DaemonClientOptions {
  readonly paths?: CredrelayPaths;
  readonly version?: string;
  /** Where the client explains, on stderr, why it is not using the daemon. */
  readonly notice?: (line: string) => void;
  readonly timeouts?: CallTimeouts;
  /** Start the daemon when none runs (the protocol path does; `credrelay daemon status` must not). */
  readonly start?: boolean;
}

const stderrNotice = (line: string): void => {
  process.stderr.write(`credrelay: ${line}\n`);
};

/**
 * Sends one request through the daemon, starting it when none runs, and replacing it when it is of another version.
 * Resolves with undefined when the caller should serve the request itself: Docker must never fail because of the
 * daemon, so every daemon problem ends in a notice on stderr and an in-process answer.
 */
export async function requestThroughDaemon<Op extends WireOp>(
  build: (version: string) => WireRequest<Op>,
  options: DaemonClientOptions = {},
): Promise<WireReply<Op> | undefined> {
  const paths = options.paths ?? resolvePaths();
  const version = options.version ?? packageVersion();
  const notice = options.notice ?? stderrNotice;
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const start = options.start ?? true;

  const refuseUnsafe = (): boolean => {
    // A client that may start the daemon makes the directory itself, where that is safe; one that only asks
    // (`daemon status`) never creates anything.
    const verdict = (start ? ensureRuntimeDir : inspectRuntimeDir)(paths.runtimeDir, paths.socketPath);
    if (verdict.state !== 'unsafe') return false;
    notice(`not using the daemon: ${verdict.reason}; serving this request in-process`);
    return true;
  };
  if (refuseUnsafe()) return undefined;

  let launched = false;
  let replaced = false;
  for (;;) {
    try {
      const reply = await sendRequest(paths.socketPath, build(version), timeouts);
      if (!reply.ok && reply.code === 'VERSION_MISMATCH' && !replaced && start) {
        // An upgrade must not leave the old daemon answering: ask it to go, then start ours.
        replaced = true;
        await sendRequest(paths.socketPath, { v: version, op: 'shutdown' }, timeouts).catch(() => undefined);
        await waitUntilGone(paths.socketPath, 2000);
        launched = true;
        if (!(await launchDaemon(paths)) || refuseUnsafe())
          return fallback(notice, 'could not start a daemon of this version');
        continue;
      }
      return reply;
    } catch (error) {
      if (!(error instanceof DaemonUnavailable)) throw error;
      if (error.reason === 'absent' && start && !launched) {
        launched = true;
        // At the bound, with every daemon in use: an in-process answer, without starting one that would refuse.
        const room = roomForDaemon(paths);
        if (room.verdict === 'full') return fallback(notice, room.why);
        if ((await launchDaemon(paths)) && !refuseUnsafe()) continue;
        const after = roomForDaemon(paths);
        return fallback(notice, after.verdict === 'full' ? after.why : 'could not start the daemon');
      }
      if (!start) return undefined;
      return fallback(notice, error.message);
    }
  }
}

function fallback(notice: (line: string) => void, why: string): undefined {
  notice(`${why}; serving this request in-process (run \`credrelay daemon status\` or \`credrelay doctor\`)`);
  return undefined;
}

/** A protocol or kubelet request through the daemon; undefined to serve it in-process. */
export async function answerThroughDaemon(
  request: ServiceRequest,
  options: DaemonClientOptions = {},
): Promise<ProtocolReply | undefined> {
  const reply = await requestThroughDaemon((v) => toWire(request, v), options);
  if (reply === undefined) return undefined;
  if (!reply.ok) return fallback(options.notice ?? stderrNotice, `the daemon refused the request (${reply.message})`);
  return reply.result;
}
