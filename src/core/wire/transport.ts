import { lstatSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { type WireOp, type WireReply, type WireRequest, decodeReply } from './contract.js';
import { LineSplitter, encodeLine } from './framing.js';

/** Why the daemon could not answer; each reason leads the client to a different recovery. */
type DaemonFailure = 'absent' | 'timeout' | 'broken';

export class DaemonUnavailable extends Error {
  override readonly name = 'DaemonUnavailable';
  constructor(
    readonly reason: DaemonFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface CallTimeouts {
  /** How long the daemon has to read the request and say so; a stopped daemon never does. */
  readonly ackMs: number;
  /** How long the answer may then take: a token exchange with its retries. */
  readonly replyMs: number;
}

export const DEFAULT_TIMEOUTS: CallTimeouts = { ackMs: 2000, replyMs: 30_000 };

/** A directory's device and inode (not following a link), or undefined. */
function identityOf(path: string): string | undefined {
  try {
    const stats = lstatSync(path, { bigint: true });
    return stats.isDirectory() ? `${stats.dev}:${stats.ino}` : undefined;
  } catch {
    return undefined;
  }
}

const ownedBy = (path: string, uid: number): boolean => {
  try {
    const stats = lstatSync(path);
    return stats.isSocket() && stats.uid === uid;
  } catch {
    return false;
  }
};

/** Sends one request to the daemon on a connection of its own and resolves with its reply. */
export function sendRequest<Op extends WireOp>(
  socketPath: string,
  request: WireRequest<Op>,
  timeouts: CallTimeouts = DEFAULT_TIMEOUTS,
): Promise<WireReply<Op>> {
  return new Promise((resolve, reject) => {
    // The directory as it was checked (runtime-dir.ts), to be found the same once connected: a directory swapped for
    // another user's between the check and the connect must not receive the request.
    // (Windows' named pipes have no directory to check.)
    const checked = process.platform !== 'win32';
    const directory = checked ? identityOf(dirname(socketPath)) : undefined;
    const socket = createConnection(socketPath);
    const splitter = new LineSplitter();
    let acknowledged = false;
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    const fail = (reason: DaemonFailure, message: string) =>
      finish(() => reject(new DaemonUnavailable(reason, message)));
    let timer = setTimeout(
      () => fail('timeout', `the daemon did not answer within ${timeouts.ackMs / 1000} s`),
      timeouts.ackMs,
    );

    socket.on('connect', () => {
      const uid = process.getuid?.();
      const ours = uid === undefined || ownedBy(socketPath, uid);
      if (checked && (directory === undefined || identityOf(dirname(socketPath)) !== directory || !ours)) {
        return fail('broken', 'the runtime directory changed while connecting; not sending the request there');
      }
      socket.write(encodeLine(request));
    });
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch {
        return fail('broken', 'the daemon sent an oversized reply');
      }
      for (const line of lines) {
        const reply = decodeReply(line, request.op);
        if (reply === undefined) return fail('broken', 'the daemon sent a malformed reply');
        if ('ack' in reply) {
          if (!acknowledged) {
            acknowledged = true;
            clearTimeout(timer);
            timer = setTimeout(
              () => fail('timeout', `the daemon did not finish within ${timeouts.replyMs / 1000} s`),
              timeouts.replyMs,
            );
          }
          continue;
        }
        return finish(() => resolve(reply));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const absent = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
      fail(absent ? 'absent' : 'broken', `cannot reach the daemon (${error.code ?? error.message})`);
    });
    socket.on('close', () => fail('broken', 'the daemon closed the connection without answering'));
  });
}

/** True when something accepts connections on the socket. */
export function isListening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
