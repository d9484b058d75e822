import { chmodSync, existsSync, lstatSync, rmSync, statSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { configuredStore, createBackend } from '../compose.js';
import { TokenCache } from '../cache/token-cache.js';
import { ensureRuntimeDir, inspectRuntimeDir } from '../core/wire/runtime-dir.js';
import { isListening } from '../core/wire/transport.js';
import { type Config, loadConfig, parseConfig } from '../core/config.js';
import { CredrelayError, toCredrelayError } from '../core/errors.js';
import type { CredrelayPaths } from '../core/paths.js';
import { MAX_STORE_BYTES } from '../core/protocol/codec.js';
import { isProtocolAction } from '../core/protocol/handler.js';
import { type LoadedRouter, answerKubelet, answerProtocol } from '../service/answer.js';
import { parseRegistry } from '../core/registry/identity.js';
import { unlockFileStore } from '../core/keychain/file-store.js';
import type { SecretStore } from '../core/keychain/secret-store.js';
import { forgetUnlockedKeys, holdsUnlockedKeys } from '../core/keychain/store-key.js';
import { acquireInstanceLock } from './instance-lock.js';
import type { Logger } from '../core/logger.js';
import { LineSplitter, type StoreCall, type WireReply, type WireRequest, encodeLine } from '../core/wire/contract.js';

export interface DaemonOptions {
  readonly paths: CredrelayPaths;
  readonly version: string;
  readonly logger: Logger;
  readonly clock?: () => number;
}

/** What `credrelay daemon status` shows. */
export interface DaemonStatus {
  readonly pid: number;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly socketPath: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly cacheEntries: number;
  readonly idleTimeoutSeconds: number;
  /** The configuration's `store`, and whether this daemon holds the file store's key (`credrelay unlock`). */
  readonly store: string;
  readonly storeUnlocked: boolean;
  /** Why the configuration is not in use; every request fails with this until the file is fixed. */
  readonly configError?: string;
}

export interface RunningDaemon {
  /** Settles once the daemon has stopped and removed its socket. */
  readonly closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
  /** Re-reads the configuration; a bad one is logged and the last good one kept. */
  reload(reason: string): Promise<void>;
  status(): DaemonStatus;
}

const OPS = new Set([
  'protocol',
  'kubelet',
  'status',
  'shutdown',
  'reload',
  'cache-list',
  'cache-clear',
  'unlock',
  'lock',
  'store-call',
]);
const STORE_METHODS = new Set(['getPassword', 'setPassword', 'deletePassword', 'findCredentials']);
/**
 * Limits on what clients can make the daemon hold. Each helper call is one short connection, so these are far
 * above real use (a build's burst of helper calls is tens of connections; the load test makes 1,000 at once), and an
 * idle connection costs little once its buffered bytes are bounded.
 */
const MAX_CONNECTIONS = 1024;
/** How long a connection may take to send its one request. */
const REQUEST_READ_MS = 5000;
/** Bytes of incomplete requests held across all connections. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** How long a refused connection's remaining input is drained before the connection is cut. */
const REFUSED_DRAIN_MS = 2000;

/**
 * Starts the daemon on its socket. Resolves with undefined when another daemon already serves this runtime
 * directory. Throws when the runtime directory is not private to this user.
 */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon | undefined> {
  const { paths, version, logger } = options;
  const clock = options.clock ?? Date.now;
  const startedAt = clock();

  prepareRuntimeDir(paths.runtimeDir, paths.socketPath);
  const releaseLock = acquireInstanceLock(paths.pidPath);
  if (releaseLock === undefined) {
    logger.info('another daemon holds the pid file; exiting', { pidPath: paths.pidPath });
    return undefined;
  }
  if (existsSync(paths.socketPath)) {
    if (await isListening(paths.socketPath)) {
      releaseLock();
      logger.warn('a daemon without a pid file answers on the socket; exiting', { socketPath: paths.socketPath });
      return undefined;
    }
    rmSync(paths.socketPath, { force: true }); // Left by a daemon that was killed.
  }

  const cache = new TokenCache({ clock, logger });
  // A configuration that cannot be read or built is held as the answer to every request, as in-process; the
  // daemon starts anyway, so that nobody waits on a daemon that cannot start, and keeps no stale pid file.
  let config: Config = parseConfig({}, paths.configPath);
  let store: SecretStore = configuredStore(config, paths.storePath);
  let loaded: LoadedRouter = { failure: undefined };
  const load = async (): Promise<void> => {
    try {
      const next = loadConfig(paths.configPath);
      const nextStore = configuredStore(next, paths.storePath);
      loaded = { router: await createBackend({ config: next, store: nextStore, cache, logger }) };
      config = next;
      store = nextStore;
    } catch (error) {
      loaded = { failure: error };
      throw error;
    }
  };
  await load().catch((error: unknown) =>
    logger.error('configuration rejected; every request fails with its error until it is fixed', {
      error: toCredrelayError(error).message,
    }),
  );
  let activeRequests = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const refused = new WeakSet<Socket>();
  const open = new Set<Socket>();
  let bufferedBytes = 0;
  const server: Server = createServer((socket) => serveConnection(socket));
  // Connections past this are closed by Node at once, before they cost anything.
  server.maxConnections = MAX_CONNECTIONS;
  await listenPrivately(server, paths.socketPath);
  logger.info('daemon started', {
    pid: process.pid,
    version,
    socketPath: paths.socketPath,
    idleTimeoutSeconds: config.daemon.idleTimeoutSeconds,
  });

  const touch = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      // The file store's key lives only here: exiting on idle would lock the store behind the user's back.
      if (activeRequests > 0 || holdsUnlockedKeys()) return touch();
      void shutdown('idle');
    }, config.daemon.idleTimeoutSeconds * 1000);
  };
  touch();

  // Reloads run one after another, so that a slow plugin import cannot let an older file win over a newer one.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (reason: string): Promise<void> =>
    (reloading = reloading.then(async () => {
      try {
        await load();
        touch();
        logger.info('configuration reloaded', { reason, idleTimeoutSeconds: config.daemon.idleTimeoutSeconds });
      } catch (error) {
        logger.error('configuration rejected; every request fails with its error until it is fixed', {
          reason,
          error: toCredrelayError(error).message,
        });
      }
    }));
  // The configuration as saved, for every request: its file's identity is checked before each one, so a request
  // that starts after the file was written, created, replaced by rename or deleted sees the new file. A stat
  // costs microseconds; polling would leave a window in which a request is routed by the old file.
  let loadedIdentity = configIdentity(paths.configPath);
  const ensureCurrentConfig = async (): Promise<void> => {
    const identity = configIdentity(paths.configPath);
    if (identity === loadedIdentity) return;
    loadedIdentity = identity;
    await reload('config file changed');
  };

  const shutdown = (reason: string): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      logger.info('daemon stopping', { reason });
      clearTimeout(idleTimer);
      forgetUnlockedKeys();
      cache.close();
      server.close(() => resolve());
      // An open connection must not keep a stopping daemon (and its cache) alive.
      for (const socket of open) socket.destroy();
      rmSync(paths.socketPath, { force: true });
      releaseLock();
    }).then(resolveClosed);
    return closing;
  };

  const status = (): DaemonStatus => ({
    pid: process.pid,
    version,
    uptimeSeconds: Math.round((clock() - startedAt) / 1000),
    socketPath: paths.socketPath,
    configPath: paths.configPath,
    logPath: paths.logPath,
    cacheEntries: cache.size,
    idleTimeoutSeconds: config.daemon.idleTimeoutSeconds,
    store: config.store,
    storeUnlocked: holdsUnlockedKeys(),
    ...('failure' in loaded ? { configError: toCredrelayError(loaded.failure).message } : {}),
  });

  function serveConnection(socket: Socket): void {
    const splitter = new LineSplitter();
    let pendingBytes = 0; // of the request not yet complete, counted in bufferedBytes
    const release = () => {
      bufferedBytes -= pendingBytes;
      pendingBytes = 0;
    };
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      release();
    });
    socket.on('error', () => undefined); // A client that went away mid-answer is not our problem.
    socket.setTimeout(REQUEST_READ_MS, () => {
      if (refused.has(socket)) return socket.destroy();
      logger.warn('closed a connection that sent no complete request in time');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      if (refused.has(socket)) return; // what follows a refused request is read and dropped
      pendingBytes += chunk.length;
      bufferedBytes += chunk.length;
      if (bufferedBytes > MAX_BUFFERED_BYTES) {
        logger.warn('refused a request: the daemon holds too many incomplete requests');
        release();
        return reject(socket, 'BUSY', 'the daemon is holding too many incomplete requests; retry');
      }
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch {
        logger.warn('rejected an oversized request');
        release();
        return reject(socket, 'REQUEST_TOO_LARGE', 'the request is larger than the daemon accepts');
      }
      if (lines.length > 0) {
        release();
        socket.setTimeout(0); // the request is in: the answer may take as long as a token exchange does
      }
      for (const line of lines) void serveLine(socket, line);
    });
  }

  async function serveLine(socket: Socket, line: string): Promise<void> {
    const request = parseRequest(line);
    if (request === undefined) {
      logger.warn('rejected a malformed request');
      return reject(socket, 'BAD_REQUEST', 'the request is not a credrelay daemon request');
    }
    socket.write(encodeLine({ ack: true }));
    activeRequests += 1;
    const started = clock();
    let reply: WireReply;
    try {
      if (request.op !== 'shutdown') await ensureCurrentConfig();
      reply = { ok: true, result: await dispatch(request) };
    } catch (error) {
      const { code, message } = error instanceof WireError ? error : toCredrelayError(error);
      reply = {
        ok: false,
        code,
        message,
        ...(error instanceof WireError && error.code === 'VERSION_MISMATCH' ? { version } : {}),
      };
    } finally {
      activeRequests -= 1;
      touch();
    }
    logger.debug('request served', {
      op: request.op,
      action: request.op === 'protocol' ? request.action : undefined,
      ok: reply.ok,
      ms: clock() - started,
    });
    if (!socket.destroyed) socket.end(encodeLine(reply));
    if (request.op === 'shutdown') void shutdown('asked by a client');
  }

  async function dispatch(request: WireRequest): Promise<unknown> {
    // Any version may ask a daemon to stop: that is how a newer client replaces an older daemon.
    if (request.op === 'shutdown') return { stopping: true };
    if (request.v !== version) {
      // The client's version is not echoed: it knows its own, and the field is whatever was sent.
      throw new WireError('VERSION_MISMATCH', `this daemon is version ${version}; the client is of another version`);
    }
    switch (request.op) {
      case 'protocol': {
        if (!isProtocolAction(request.action)) throw new WireError('BAD_REQUEST', 'unknown protocol action');
        return answerProtocol(request.action, Buffer.from(request.input, 'base64'), loaded, version);
      }
      case 'kubelet':
        return answerKubelet(Buffer.from(request.input, 'base64'), loaded);
      case 'status':
        return status();
      case 'reload':
        await reload('asked by a client');
        return status();
      case 'cache-list':
        return cache.list().map((entry) => ({
          ...entry,
          fetchedAt: entry.fetchedAt.toISOString(),
          refreshAt: entry.refreshAt.toISOString(),
          expiresAt: entry.expiresAt.toISOString(),
        }));
      case 'cache-clear': {
        const registry = request.host === undefined ? undefined : parseRegistry(request.host);
        if ('router' in loaded) return { removed: loaded.router.clearCache(registry) };
        return { removed: registry === undefined ? cache.clear() : 0 };
      }
      case 'unlock': {
        if (config.store !== 'file') {
          throw new CredrelayError(
            'STORE_FAILED',
            `the configuration (${paths.configPath}) keeps secrets in the OS keychain, which credrelay does not lock; set "store": "file" to use the encrypted file store`,
          );
        }
        const outcome = await unlockFileStore(paths.storePath, request.passphrase);
        logger.info('file store unlocked', { outcome });
        return { outcome, storePath: paths.storePath };
      }
      case 'lock':
        return { wasUnlocked: forgetUnlockedKeys() };
      case 'store-call':
        return callStore(store, request.call);
    }
  }

  /**
   * Refuses a request: the error reply, then our side of the connection closes. Whatever the client is still sending
   * is read and dropped rather than met with a reset, which could destroy the reply before the client reads it;
   * a client that keeps sending is cut off after REFUSED_DRAIN_MS.
   */
  function reject(socket: Socket, code: string, message: string): void {
    if (socket.destroyed || refused.has(socket)) return;
    refused.add(socket);
    socket.end(encodeLine({ ok: false, code, message }));
    socket.setTimeout(REFUSED_DRAIN_MS, () => socket.destroy());
  }

  return { closed, shutdown, reload, status };
}

/** What tells one saved configuration file from another: inode, size and modification time (or its absence). */
function configIdentity(path: string): string {
  try {
    const stats = statSync(path, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch (error) {
    return `absent:${(error as NodeJS.ErrnoException).code ?? ''}`;
  }
}

/** A CLI command's call on the daemon's secret store; its answer is the store's own. */
function callStore(store: SecretStore, call: StoreCall): Promise<unknown> {
  switch (call.method) {
    case 'getPassword':
      return store.getPassword(call.service, call.account);
    case 'setPassword':
      return store.setPassword(call.service, call.account, call.password).then(() => null);
    case 'deletePassword':
      return store.deletePassword(call.service, call.account);
    case 'findCredentials':
      return store.findCredentials(call.service);
  }
}

/** An error answered to the client as it is (codes of the wire, not of the protocol). */
class WireError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The largest base64 input a protocol request can carry. */
const MAX_INPUT_BASE64 = Math.ceil((MAX_STORE_BYTES + 1) / 3) * 4 + 4;

function parseRequest(line: string): WireRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const request = value as Record<string, unknown>;
  if (typeof request.v !== 'string' || typeof request.op !== 'string' || !OPS.has(request.op)) return undefined;
  if (request.op === 'protocol' && typeof request.action !== 'string') return undefined;
  if (request.op === 'protocol' || request.op === 'kubelet') {
    if (typeof request.input !== 'string' || request.input.length > MAX_INPUT_BASE64) return undefined;
  }
  if (request.op === 'cache-clear' && request.host !== undefined && typeof request.host !== 'string') return undefined;
  if (request.op === 'unlock' && (typeof request.passphrase !== 'string' || request.passphrase.length === 0))
    return undefined;
  if (request.op === 'store-call' && !isStoreCall(request.call)) return undefined;
  return request as unknown as WireRequest;
}

function isStoreCall(value: unknown): value is StoreCall {
  if (typeof value !== 'object' || value === null) return false;
  const call = value as Record<string, unknown>;
  if (typeof call.method !== 'string' || !STORE_METHODS.has(call.method) || typeof call.service !== 'string')
    return false;
  if (call.method !== 'findCredentials' && typeof call.account !== 'string') return false;
  return call.method !== 'setPassword' || typeof call.password === 'string';
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
