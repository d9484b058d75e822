import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
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
 * On Linux every entry is pinned to the Secret Service: the library would otherwise fall back silently to the kernel
 * keyring, which forgets everything at reboot, and long-lived credentials must never land there.
 */
interface OsKeychainOptions {
  readonly timeoutMs?: number;
  /** Starts the thread that makes the calls; tests hand in a fake. */
  readonly startWorker?: () => Worker;
}

/** Requests a caller may have outstanding before the keychain counts as overwhelmed. */
const MAX_OUTSTANDING_CALLS = 64;

type Operation =
  | { readonly op: 'get' | 'delete'; readonly service: string; readonly account: string }
  | { readonly op: 'set'; readonly service: string; readonly account: string; readonly password: string }
  | { readonly op: 'find'; readonly service: string }
  | { readonly op: 'probe' };

/** What the thread answers: a value, or the native error's message (which never holds the password). */
type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly expired?: boolean };

/** The thread's program. It runs in its own isolate, so it is plain CommonJS; `notAfter` skips expired calls. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let keyring, loadError;
try { keyring = require(workerData.modulePath); } catch (error) { loadError = String(error && error.message || error); }
const pinned = process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined;
// An entry keeps its connection: a lookup through a kept entry takes ~1 ms, through a new one ~8 ms (Secret Service).
const entries = new Map();
const entry = (m) => {
  const key = m.service + '\\0' + m.account;
  let found = entries.get(key);
  if (found === undefined) {
    if (entries.size >= 256) entries.delete(entries.keys().next().value);
    found = new keyring.Entry(m.service, m.account, pinned);
    entries.set(key, found);
  }
  return found;
};
// A kept entry whose connection broke (the bus or the keyring restarted) is dropped and the call tried once afresh.
const withEntry = (m, use) => {
  const kept = entries.has(m.service + '\\0' + m.account);
  try { return use(entry(m)); }
  catch (error) {
    entries.delete(m.service + '\\0' + m.account);
    if (!kept) throw error;
    return use(entry(m));
  }
};
// Through a kept entry, like every lookup; the kernel keyring is looked at only when the Secret Service is not there.
const probe = () => {
  const answer = { platform: process.platform };
  try { withEntry({ service: 'credrelay-probe', account: 'probe' }, (e) => e.getPassword()); answer.reachable = true; }
  catch (error) { answer.reachable = false; answer.message = String(error && error.message || error); }
  if (process.platform === 'linux' && !answer.reachable) {
    try { new keyring.Entry('credrelay-probe', 'probe', { linux: { store: 'keyutils' } }); answer.kernelKeyring = true; }
    catch { answer.kernelKeyring = false; }
  }
  return answer;
};
const operations = {
  get: (m) => withEntry(m, (e) => e.getPassword()),
  set: (m) => withEntry(m, (e) => { e.setPassword(m.password); return null; }),
  delete: (m) => withEntry(m, (e) => e.deletePassword()),
  find: (m) => keyring.findCredentials(m.service),
  probe,
};
parentPort.on('message', (m) => {
  let reply;
  if (Date.now() > m.notAfter) reply = { id: m.id, ok: false, expired: true, message: 'expired' };
  else if (loadError !== undefined) reply = { id: m.id, ok: false, message: 'LOAD: ' + loadError };
  else {
    try { reply = { id: m.id, ok: true, value: operations[m.op](m) }; }
    catch (error) { reply = { id: m.id, ok: false, message: String(error && error.message || error) }; }
  }
  parentPort.postMessage(reply);
});
`;

const DOCTOR = 'or run `credrelay doctor`';

function defaultWorker(): Worker {
  // Loaded here, not at the top: the protocol path imports this module's types long before it needs a thread.
  const require = createRequire(import.meta.url);
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const modulePath = require.resolve('@napi-rs/keyring');
  return new Worker(WORKER_SOURCE, { eval: true, workerData: { modulePath } });
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

  const settle = (reply: WorkerReply): void => {
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
    if (busyWith !== undefined && Date.now() > busyWith.deadline) return Promise.reject(notAnswering(what));
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
        thread().postMessage({ ...operation, id, notAfter: deadline });
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
