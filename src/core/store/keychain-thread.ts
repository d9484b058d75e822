/**
 * The OS keychain's own thread (src/core/store/os-keychain.ts starts it): every call of @napi-rs/keyring, whose
 * calls are synchronous and may block as long as the keychain takes, runs here and never on the event loop or
 * libuv's shared pool. It runs in its own isolate, with the keychain module's path in its workerData.
 *
 * On Linux every entry is pinned to the Secret Service: the library would otherwise fall back silently to the kernel
 * keyring, which forgets everything at reboot, and long-lived credentials must never land there.
 */
import { createRequire } from 'node:module';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export type Operation =
  | { readonly op: 'get' | 'delete'; readonly service: string; readonly account: string }
  | { readonly op: 'set'; readonly service: string; readonly account: string; readonly password: string }
  | { readonly op: 'find'; readonly service: string }
  | { readonly op: 'probe' };

/** A call as the thread receives it: `notAfter` (epoch ms) skips a call whose caller has given up. */
export type ThreadMessage = Operation & { readonly id: number; readonly notAfter: number };

/** What the thread answers: a value, or the native error's message (which never holds the password). */
export type ThreadReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly expired?: boolean };

/** What the thread needs of @napi-rs/keyring. */
interface KeyringEntry {
  getPassword(): string | null | undefined;
  setPassword(password: string): void;
  deletePassword(): boolean;
}
interface KeyringModule {
  Entry: new (service: string, account: string, options?: unknown) => KeyringEntry;
  findCredentials(service: string): unknown;
}

/** An entry keeps its connection: a lookup through a kept entry takes ~1 ms, through a new one ~8 ms (Secret Service). */
const MAX_KEPT_ENTRIES = 256;

const messageOf = (error: unknown): string => String((error as Error | undefined)?.message ?? error);

/** Answers one message; `keyring` is the module, or why it could not be loaded. */
export function answer(
  keyring: KeyringModule | string,
  message: ThreadMessage,
  kept: Map<string, KeyringEntry>,
  now = Date.now(),
): ThreadReply {
  if (now > message.notAfter) return { id: message.id, ok: false, expired: true, message: 'expired' };
  if (typeof keyring === 'string') return { id: message.id, ok: false, message: `LOAD: ${keyring}` };
  const pinned = process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined;
  const entry = (service: string, account: string): KeyringEntry => {
    const key = `${service}\0${account}`;
    let found = kept.get(key);
    if (found === undefined) {
      if (kept.size >= MAX_KEPT_ENTRIES) kept.delete(kept.keys().next().value as string);
      found = new keyring.Entry(service, account, pinned);
      kept.set(key, found);
    }
    return found;
  };
  // A kept entry whose connection broke (the bus or the keyring restarted) is dropped and the call tried once afresh.
  const withEntry = <T>(service: string, account: string, use: (entry: KeyringEntry) => T): T => {
    const key = `${service}\0${account}`;
    const wasKept = kept.has(key);
    try {
      return use(entry(service, account));
    } catch (error) {
      kept.delete(key);
      if (!wasKept) throw error;
      return use(entry(service, account));
    }
  };
  // Through a kept entry, like every lookup; the kernel keyring is looked at only when the Secret Service is not there.
  const probe = () => {
    const found: { platform: string; reachable?: boolean; message?: string; kernelKeyring?: boolean } = {
      platform: process.platform,
    };
    try {
      withEntry('credrelay-probe', 'probe', (e) => e.getPassword());
      found.reachable = true;
    } catch (error) {
      found.reachable = false;
      found.message = messageOf(error);
    }
    if (process.platform === 'linux' && !found.reachable) {
      try {
        new keyring.Entry('credrelay-probe', 'probe', { linux: { store: 'keyutils' } });
        found.kernelKeyring = true;
      } catch {
        found.kernelKeyring = false;
      }
    }
    return found;
  };
  try {
    switch (message.op) {
      case 'get':
        return { id: message.id, ok: true, value: withEntry(message.service, message.account, (e) => e.getPassword()) };
      case 'set':
        withEntry(message.service, message.account, (e) => e.setPassword(message.password));
        return { id: message.id, ok: true, value: null };
      case 'delete':
        return {
          id: message.id,
          ok: true,
          value: withEntry(message.service, message.account, (e) => e.deletePassword()),
        };
      case 'find':
        return { id: message.id, ok: true, value: keyring.findCredentials(message.service) };
      case 'probe':
        return { id: message.id, ok: true, value: probe() };
    }
  } catch (error) {
    return { id: message.id, ok: false, message: messageOf(error) };
  }
}

// Started as a worker: load the keychain module once, then answer each call in order.
if (!isMainThread && parentPort !== null && (workerData as { role?: string } | undefined)?.role === 'keychain') {
  const { modulePath } = workerData as { modulePath: string };
  let keyring: KeyringModule | string;
  try {
    keyring = createRequire(import.meta.url)(modulePath) as KeyringModule;
  } catch (error) {
    keyring = messageOf(error);
  }
  const kept = new Map<string, KeyringEntry>();
  const port = parentPort;
  port.on('message', (message: ThreadMessage) => port.postMessage(answer(keyring, message, kept)));
}
