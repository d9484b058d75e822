import type { Server, Socket } from 'node:net';
import type { Logger } from '../core/logger.js';
import { type WireErrorCode, type WireReply, type WireRequest, decodeRequest } from '../core/wire/contract.js';
import { LineSplitter, encodeLine } from '../core/wire/framing.js';

/**
 * Limits on what clients can make the daemon hold. Each helper call is one short connection, so these are far
 * above real use (a build's burst of helper calls is tens of connections; the load test makes 1,000 at once), and an
 * idle connection costs little once its buffered bytes are bounded.
 */
const MAX_CONNECTIONS = 1024;
/** How long a connection may take to send its one request: a deadline from its accept, not an idle timeout. */
const REQUEST_READ_MS = 5000;
/** Bytes of incomplete requests held across all connections. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** How long a refused connection's remaining input is drained before the connection is cut. */
const REFUSED_DRAIN_MS = 2000;

/** Answers one decoded request; the connection layer writes the reply. */
type RequestHandler = (request: WireRequest) => Promise<WireReply>;

interface Connections {
  /**
   * Ends the connections of a stopping daemon: at once those whose request has not come in, and the others once
   * their acknowledged request is answered, or at `deadlineMs`; a stopping daemon is not kept alive by any of them.
   */
  drain(deadlineMs: number): Promise<void>;
}

/**
 * The connection layer: one request per connection, framed as a line, acknowledged as soon as it is read, answered
 * with one reply line, then closed. It bounds the connections, the time to send a request and the bytes held for
 * incomplete requests, and refuses what it cannot decode.
 */
export function acceptConnections(server: Server, logger: Logger, handle: RequestHandler): Connections {
  const layer = new ConnectionLayer(logger, handle);
  server.on('connection', (socket: Socket) => layer.serve(socket));
  return { drain: (deadlineMs) => layer.drain(deadlineMs) };
}

class ConnectionLayer {
  private readonly refused = new WeakSet<Socket>();
  /** Connections whose one request is in: nothing more is read from them. */
  private readonly answered = new WeakSet<Socket>();
  /** In the order they were accepted: the oldest incomplete one is the first to go when room is needed. */
  private readonly open = new Set<Socket>();
  /** Bytes of its incomplete request each connection holds. */
  private readonly pending = new Map<Socket, number>();
  /** Requests acknowledged and not yet answered: a stopping daemon answers these before it goes. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Bytes of incomplete requests across all connections. */
  private bufferedBytes = 0;

  constructor(
    private readonly logger: Logger,
    private readonly handle: RequestHandler,
  ) {}

  serve(socket: Socket): void {
    // At the bound, a flood of connections that never finish their request must not lock out a real client: the
    // oldest of those goes to make room (it had its chance), and only when every open connection is being answered
    // is the new one turned away.
    if (this.open.size >= MAX_CONNECTIONS && !this.evictOldestIncomplete(socket)) {
      socket.destroy();
      return;
    }
    const splitter = new LineSplitter();
    let pendingBytes = 0; // of the request not yet complete, counted in bufferedBytes
    // What this connection holds is counted in `pending` (another connection's overflow may have released it).
    const release = () => {
      this.bufferedBytes -= this.pending.get(socket) ?? 0;
      this.pending.delete(socket);
      pendingBytes = 0;
    };
    this.open.add(socket);
    // A deadline, not socket.setTimeout: an idle timeout would let a client that sends a byte now and then hold its
    // connection (and its buffered bytes) for ever.
    const readDeadline = setTimeout(() => {
      if (!this.refused.has(socket)) this.logger.warn('closed a connection that sent no complete request in time');
      socket.destroy();
    }, REQUEST_READ_MS);
    readDeadline.unref();
    socket.on('close', () => {
      clearTimeout(readDeadline);
      this.open.delete(socket);
      release();
    });
    socket.on('error', () => undefined); // A client that went away mid-answer is not our problem.
    socket.on('data', (chunk: Buffer) => {
      // What follows a refused request, or the one request of a connection, is read and dropped.
      if (this.refused.has(socket) || this.answered.has(socket)) return;
      pendingBytes += chunk.length;
      this.bufferedBytes += chunk.length;
      this.pending.set(socket, pendingBytes);
      // Past the bound on incomplete bytes, the oldest incomplete requests are refused until it holds again: the
      // connection sending now may be the one real client among a flood.
      while (this.bufferedBytes > MAX_BUFFERED_BYTES) {
        const oldest = [...this.pending.keys()].find((other) => other !== socket) ?? socket;
        this.logger.warn('refused a request: the daemon holds too many incomplete requests');
        this.bufferedBytes -= this.pending.get(oldest) ?? 0;
        this.pending.delete(oldest);
        this.refuse(oldest, 'BUSY', 'the daemon is holding too many incomplete requests; retry');
        if (oldest === socket) return;
      }
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch {
        this.logger.warn('rejected an oversized request');
        release();
        return this.refuse(socket, 'REQUEST_TOO_LARGE', 'the request is larger than the daemon accepts');
      }
      if (lines.length === 0) return;
      // One request per connection: the first line is served, anything after it is not (a second `store-call` on
      // the same connection must not run). The answer may take as long as a token exchange does.
      release();
      clearTimeout(readDeadline);
      this.answered.add(socket);
      if (lines.length > 1 || splitter.holdsPartialLine())
        this.logger.warn('ignored what a client sent after its one request');
      const served = this.serveLine(socket, lines[0]!);
      this.inFlight.add(served);
      void served.finally(() => this.inFlight.delete(served));
    });
  }

  /** Ends the oldest connection whose request has not come in (not `except`); whether there was one. */
  private evictOldestIncomplete(except: Socket): boolean {
    for (const socket of this.open) {
      if (socket === except || this.answered.has(socket) || this.refused.has(socket)) continue;
      this.logger.warn('closed the oldest connection without a complete request, to make room');
      this.open.delete(socket);
      socket.destroy();
      return true;
    }
    return false;
  }

  async drain(deadlineMs: number): Promise<void> {
    for (const socket of this.open) if (!this.answered.has(socket)) socket.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    clearTimeout(timer);
    for (const socket of this.open) socket.destroy();
  }

  private async serveLine(socket: Socket, line: string): Promise<void> {
    const request = decodeRequest(line);
    if (request === undefined) {
      this.logger.warn('rejected a malformed request');
      return this.refuse(socket, 'BAD_REQUEST', 'the request is not a credrelay daemon request');
    }
    socket.write(encodeLine({ ack: true }));
    const reply = await this.handle(request);
    if (!socket.destroyed) socket.end(encodeLine(reply));
  }

  /**
   * Refuses a request: the error reply, then our side of the connection closes. Whatever the client is still sending
   * is read and dropped rather than met with a reset, which could destroy the reply before the client reads it;
   * a client that keeps sending is cut off after REFUSED_DRAIN_MS.
   */
  private refuse(socket: Socket, code: WireErrorCode, message: string): void {
    if (socket.destroyed || this.refused.has(socket)) return;
    this.refused.add(socket);
    socket.end(encodeLine({ ok: false, code, message }));
    setTimeout(() => socket.destroy(), REFUSED_DRAIN_MS).unref();
  }
}
