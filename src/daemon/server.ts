import { chmodSync, existsSync, lstatSync, rmSync, utimesSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { CredrelayError, toCredrelayError } from '../core/errors.js';
import { holdsUnlockedKeys } from '../core/store/store-key.js';
import type { Logger } from '../core/logger.js';
import type { CredrelayPaths } from '../core/paths.js';
import type { DaemonStatus, WireReply, WireRequest } from '../core/wire/contract.js';
import { ensureRuntimeDir, inspectRuntimeDir } from '../core/wire/runtime-dir.js';
import { isListening } from '../core/wire/transport.js';
import { acceptConnections } from './connections.js';
import { createDispatcher } from './dispatch.js';
import { acquireInstanceLock } from './instance-lock.js';
import { claimSlot } from './slots.js';
import { listenInherited, takeInheritedSocket } from './socket-activation.js';
import { type DaemonState, forgetSecrets, idleTimer, loadDaemonState } from './lifecycle.js';

interface DaemonOptions {
  readonly paths: CredrelayPaths;
  readonly version: string;
  readonly logger: Logger;
  readonly clock?: () => number;
}

export interface RunningDaemon {
  /** Settles once the daemon has stopped and removed its socket. */
  readonly closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
  /** Re-reads the configuration; a bad one is logged and becomes every request's error until it is fixed. */
  reload(reason: string): Promise<void>;
  status(): DaemonStatus;
}

/** How long a stopping daemon answers the requests it acknowledged: above the router's provider deadline (25 s). */
const DRAIN_DEADLINE_MS = 27_000;

/**
 * Starts the daemon on its socket: the runtime directory checked, one instance per socket, the configuration
 * loaded, then connections (connections.ts) → dispatch (dispatch.ts) → the service, with idle exit, reload and
 * shutdown (lifecycle.ts). Resolves with undefined when another daemon already serves this runtime directory.
 * Throws when the runtime directory is not private to this user.
 */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon | undefined> {
  const { paths, version, logger } = options;
  const clock = options.clock ?? Date.now;
  const startedAt = clock();

  // Handed over by a service manager (systemd socket activation), or ours to create.
  const inherited = takeInheritedSocket();
  const releaseLock = await claimSocket(paths, logger, inherited !== undefined);
  if (releaseLock === undefined) return undefined;
  let releaseSlot: () => void;
  try {
    releaseSlot = await claimSlot(paths, logger);
  } catch (error) {
    releaseLock();
    throw error;
  }

  let activeRequests = 0;
  const idle = idleTimer(
    () => state.config().daemon.idleTimeoutSeconds,
    () => activeRequests,
    () => void shutdown('idle'),
    // Said each time, so a daemon that outlives its idle timeout says why (`credrelay lock` lets it go).
    (reason) => logger.info('idle timeout passed; staying', { reason }),
  );
  const state = await loadDaemonState(paths, logger, clock, () => idle.touch());
  idle.touch(); // with the loaded configuration's timeout

  const status = (): DaemonStatus => daemonStatus(options, state, Math.round((clock() - startedAt) / 1000));
  const dispatcher = createDispatcher({ version, paths, state, status });

  const usage = usageMark(paths.pidPath);
  const handle = async (request: WireRequest): Promise<WireReply> => {
    activeRequests += 1;
    usage.mark();
    const started = clock();
    const reply = await dispatcher.reply(request).finally(() => {
      activeRequests -= 1;
      idle.touch();
    });
    logger.debug('request served', {
      op: request.op,
      action: request.op === 'protocol' ? request.action : undefined,
      ok: reply.ok,
      ms: clock() - started,
    });
    if (request.op === 'shutdown') setImmediate(() => void shutdown('asked by a client'));
    return reply;
  };

  const server: Server = createServer();
  const connections = acceptConnections(server, logger, handle);
  try {
    if (inherited === undefined) await listenPrivately(server, paths.socketPath);
    else await listenInherited(server, inherited, paths.socketPath);
  } catch (error) {
    releaseLock();
    releaseSlot();
    throw error;
  }
  // The client that started us may have given up waiting and left its start lock for us (launcher.ts).
  rmSync(paths.launchLockPath, { recursive: true, force: true });
  logger.info('daemon started', {
    pid: process.pid,
    version,
    socketPath: paths.socketPath,
    activated: inherited !== undefined,
    idleTimeoutSeconds: state.config().daemon.idleTimeoutSeconds,
  });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      logger.info('daemon stopping', { reason });
      idle.stop();
      usage.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // A socket the service manager handed over stays: it keeps listening, and starts us again on the next request.
      // Ours goes at once, so that the next client starts a daemon rather than connect to one that is leaving.
      if (inherited === undefined) rmSync(paths.socketPath, { force: true });
      // Requests already acknowledged are answered (their clients would otherwise wait out their deadline, then ask
      // again); the rest of the connections end now.
      await connections.drain(DRAIN_DEADLINE_MS);
      await stopped;
      forgetSecrets(state);
      releaseLock();
      releaseSlot();
    })().then(resolveClosed);
    return closing;
  };

  return { closed, shutdown, reload: state.reload, status };
}

/** How often a daemon marks its use on its pid file: clients stop the least recently used one (core/wire/daemon-room.ts). */
const USAGE_MARK_MS = 5000;

/**
 * Marks the daemon's use as its pid file's modification time, at most every USAGE_MARK_MS; and keeps it marked while
 * the daemon holds the file store's key, so that no client stops it to make room for another environment's.
 */
function usageMark(pidPath: string) {
  // The wall clock, not the daemon's injected one: clients compare the mark with their own Date.now().
  const clock = Date.now;
  let markedAt = 0;
  const touch = () => {
    markedAt = clock();
    try {
      const now = new Date(markedAt);
      utimesSync(pidPath, now, now);
    } catch {
      // The pid file is gone (shutting down): nothing to mark.
    }
  };
  const holding = setInterval(() => {
    if (holdsUnlockedKeys()) touch();
  }, USAGE_MARK_MS);
  holding.unref();
  return {
    mark: () => {
      if (clock() - markedAt >= USAGE_MARK_MS) touch();
    },
    stop: () => clearInterval(holding),
  };
}

/** What `credrelay daemon status` shows: never a secret. */
function daemonStatus(options: DaemonOptions, state: DaemonState, uptimeSeconds: number): DaemonStatus {
  const loaded = state.loaded();
  const { paths } = options;
  return {
    pid: process.pid,
    version: options.version,
    uptimeSeconds,
    socketPath: paths.socketPath,
    configPath: paths.configPath,
    logPath: paths.logPath,
    cacheEntries: state.cache.size,
    idleTimeoutSeconds: state.config().daemon.idleTimeoutSeconds,
    store: state.config().store,
    storeUnlocked: holdsUnlockedKeys(),
    ...('failure' in loaded ? { configError: toCredrelayError(loaded.failure).message } : {}),
  };
}

/**
 * Makes the socket ours: a private runtime directory, the instance lock, and no live daemon on the socket. Returns
 * the lock's release, or undefined when another daemon serves.
 */
async function claimSocket(
  paths: CredrelayPaths,
  logger: Logger,
  activated: boolean,
): Promise<(() => void) | undefined> {
  prepareRuntimeDir(paths.runtimeDir, paths.socketPath);
  const releaseLock = acquireInstanceLock(paths.pidPath);
  if (releaseLock === undefined) {
    logger.info('another daemon holds the pid file; exiting', { pidPath: paths.pidPath });
    return undefined;
  }
  // A handed-over socket is listening already: the service manager's, waiting for us.
  if (!activated && existsSync(paths.socketPath)) {
    if (await isListening(paths.socketPath)) {
      releaseLock();
      logger.warn('a daemon without a pid file answers on the socket; exiting', { socketPath: paths.socketPath });
      return undefined;
    }
    rmSync(paths.socketPath, { force: true }); // Left by a daemon that was killed.
  }
  return releaseLock;
}

/**
 * Creates the runtime directory private (0700), or tightens one we own; refuses one that someone else owns or can
 * write to, because our socket there could be replaced by theirs.
 */
function prepareRuntimeDir(dir: string, socketPath: string): void {
  if (process.platform === 'win32') return;
  const created = ensureRuntimeDir(dir, socketPath);
  if (created.state === 'unsafe') throw new CredrelayError('DAEMON_UNSAFE', `refusing to start: ${created.reason}`);
  const stats = lstatSync(dir);
  if (
    stats.isDirectory() &&
    !stats.isSymbolicLink() &&
    stats.uid === process.getuid?.() &&
    (stats.mode & 0o077) !== 0
  ) {
    chmodSync(dir, 0o700);
  }
  const verdict = inspectRuntimeDir(dir, socketPath);
  if (verdict.state === 'unsafe') throw new CredrelayError('DAEMON_UNSAFE', `refusing to start: ${verdict.reason}`);
}

/** Listens with a umask that creates the socket 0600 from its first moment: no window in which others can connect. */
function listenPrivately(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const previous = process.umask(0o177);
    server.once('error', (error) => {
      process.umask(previous);
      reject(error);
    });
    server.listen(socketPath, () => {
      process.umask(previous);
      if (process.platform !== 'win32') chmodSync(socketPath, 0o600);
      resolve();
    });
  });
}
