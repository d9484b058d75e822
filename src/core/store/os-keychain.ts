import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Operation, ThreadMessage, ThreadReply } from './keychain-thread.js';
import { CredrelayError } from '../errors.js';
import { isDefaultCollectionLocked } from './lock-state.js';
import { KEYCHAIN_TIMEOUT_MS, type SecretStore, type StoreDescription, explainKeychainError } from './secret-store.js';

/**
 * The OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service on Linux) through
 * @napi-rs/keyring, whose calls are synchronous and may block for as long as the keychain takes to answer.
 *
 * So every call runs on one dedicated worker thread, never on the event loop and never on libuv's shared pool
 * (where a few hung calls would starve DNS look-ups and crypto for everything else). However many calls hang, the
 * keychain holds that one thread. Each call has a deadline; once the call the thread is busy with has passed its
 * deadline, the keychain counts as not answering and later calls fail at once instead of queueing behind it.
 *
 * The thread's program is keychain-thread.ts (on Linux it pins every entry to the Secret Service).
 */
interface OsKeychainOptions {
  readonly timeoutMs?: number;
  /** Starts the thread that makes the calls; tests hand in a fake. */
  readonly startWorker?: () => Worker;
}

/** Requests a caller may have outstanding before the keychain counts as overwhelmed. */
const MAX_OUTSTANDING_CALLS = 64;

const DOCTOR = 'or run `credrelay doctor`';

function defaultWorker(): Worker {
  // Loaded here, not at the top: the protocol path imports this module's types long before it needs a thread.
  const require = createRequire(import.meta.url);
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const modulePath = require.resolve('@napi-rs/keyring');
  return new Worker(threadFile(), { workerData: { role: 'keychain', modulePath } });
}

/**
 * The thread's program, keychain-thread.js of the compiled tree: found from this module's place under dist/src/,
 * which is the same whether this runs from the tree or from the CLI's bundle (dist/src/cli/bundle.cjs); run from
 * the TypeScript sources (tests), the compiled tree beside them.
 */
function threadFile(): string {
  const here = fileURLToPath(import.meta.url);
  const compiled = `${sep}dist${sep}src${sep}`;
  const at = here.lastIndexOf(compiled);
  const tree =
    at !== -1
      ? here.slice(0, at + compiled.length)
      : join(here.slice(0, here.lastIndexOf(`${sep}src${sep}`)), 'dist', 'src');
  return join(tree, 'core', 'store', 'keychain-thread.js');
}

interface Pending {
  readonly what: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export function createOsKeychain(options: OsKeychainOptions = {}): SecretStore {
  const timeoutMs = options.timeoutMs ?? KEYCHAIN_TIMEOUT_MS;
  const startWorker = options.startWorker ?? defaultWorker;
  let worker: Worker | undefined;
  let nextId = 1;
  // Calls waiting for their answer (a call that failed at its deadline is no longer here)...
  const pending = new Map<number, Pending>();
  // ...and every message the thread has not answered yet, in its order: the first is the one it is busy with.
  let unanswered: Array<{ readonly id: number; readonly deadline: number }> = [];

  const notAnswering = (what: string) =>
    new CredrelayError(
      'KEYCHAIN_TIMEOUT',
      `the OS keychain did not answer within ${timeoutMs / 1000} s (${what}): it may be locked and waiting for an unlock prompt nobody sees, or stopped; unlock or restart it, ${DOCTOR}`,
    );

  const settle = (reply: ThreadReply): void => {
    unanswered = unanswered.filter((message) => message.id > reply.id); // the thread answers in order
    const call = pending.get(reply.id);
    if (call === undefined) return; // already failed at its deadline
    pending.delete(reply.id);
    clearTimeout(call.timer);
    if (reply.ok) return call.resolve(reply.value);
    call.reject(explainNative(reply.message, call.what));
  };

  const explainNative = (message: string, what: string): CredrelayError => {
    if (message === 'expired') return notAnswering(what);
    if (message.startsWith('LOAD: ')) {
      return new CredrelayError(
        'KEYCHAIN_UNAVAILABLE',
        `the keychain module (@napi-rs/keyring) has no binary for ${process.platform}-${process.arch}: reinstall credrelay with npm (its optional dependencies carry the binary), or use the encrypted file store ("store": "file"), ${DOCTOR}`,
      );
    }
    return explainKeychainError(new Error(message));
  };

  const thread = (): Worker => {
    if (worker !== undefined) return worker;
    const started = startWorker();
    started.on('message', settle);
    started.on('error', () => undefined);
    started.on('exit', () => {
      if (worker === started) worker = undefined;
      unanswered = [];
      for (const [id, call] of pending) {
        pending.delete(id);
        clearTimeout(call.timer);
        call.reject(
          new CredrelayError('KEYCHAIN_FAILED', `the OS keychain thread stopped (${call.what}); retry, ${DOCTOR}`),
        );
      }
    });
    // After the listeners, which would otherwise hold the process again: a pending call's deadline timer keeps the
    // process alive while it waits; an idle thread must not.
    started.unref();
    worker = started;
    return started;
  };

  const call = <T>(what: string, operation: Operation): Promise<T> => {
    const busyWith = unanswered[0];
    // At or past its deadline (a timer may fire in the very millisecond of it): the thread is stuck on it.
    if (busyWith !== undefined && Date.now() >= busyWith.deadline) return Promise.reject(notAnswering(what));
    if (unanswered.length >= MAX_OUTSTANDING_CALLS) return Promise.reject(notAnswering(what));
    return new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const deadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(notAnswering(what));
      }, timeoutMs);
      pending.set(id, { what, resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        const message: ThreadMessage = { ...operation, id, notAfter: deadline };
        thread().postMessage(message);
        unanswered.push({ id, deadline });
      } catch {
        pending.delete(id);
        clearTimeout(timer);
        reject(new CredrelayError('KEYCHAIN_FAILED', `the OS keychain thread could not be started, ${DOCTOR}`));
      }
    });
  };

  return {
    getPassword: (service, account) => call<string | null>('read', { op: 'get', service, account }),
    setPassword: (service, account, password) => call<void>('write', { op: 'set', service, account, password }),
    deletePassword: (service, account) => call<boolean>('delete', { op: 'delete', service, account }),
    findCredentials: (service) => call<Array<{ account: string; password: string }>>('list', { op: 'find', service }),
    describe: async (): Promise<StoreDescription> => {
      const backend = OS_BACKENDS[process.platform] ?? `the ${process.platform} keychain`;
      try {
        // The lock state comes from D-Bus directly, so it is asked while the keychain thread starts.
        const [probe, locked] = await Promise.all([
          call<{ reachable: boolean; message?: string; kernelKeyring?: boolean }>('check', { op: 'probe' }),
          isDefaultCollectionLocked(timeoutMs),
        ]);
        if (probe.reachable && locked === true) {
          const locked = explainKeychainError(new Error('the default collection is locked')).message;
          return { kind: 'os', backend, usable: false, detail: locked };
        }
        if (probe.reachable) return { kind: 'os', backend, usable: true };
        const problem = explainNative(probe.message ?? '', 'check').message;
        const kernel = probe.kernelKeyring
          ? '; the kernel keyring is reachable but credrelay does not use it: it forgets everything at reboot'
          : '';
        return { kind: 'os', backend, usable: false, detail: `${problem}${kernel}` };
      } catch (error) {
        return { kind: 'os', backend, usable: false, detail: (error as Error).message };
      }
    },
  };
}

const OS_BACKENDS: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'the Secret Service (D-Bus)',
  darwin: 'the macOS Keychain',
  win32: 'the Windows Credential Manager',
};
