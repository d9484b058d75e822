import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createOsKeychain } from './os-keychain.js';
import { explainKeychainError } from './secret-store.js';

interface Posted {
  readonly id: number;
  readonly op: string;
  readonly notAfter: number;
  readonly [key: string]: unknown;
}

/**
 * A stand-in for the keychain thread: it records what is posted and answers through `answer`, which may return
 * undefined to leave a call hanging, as a keychain waiting on a prompt does.
 */
function fakeThread(answer: (message: Posted) => { ok: boolean; value?: unknown; message?: string } | undefined) {
  const started: EventEmitter[] = [];
  const posted: Posted[] = [];
  const startWorker = (): Worker => {
    const thread = new EventEmitter() as EventEmitter & { postMessage(m: Posted): void; unref(): void };
    thread.postMessage = (message) => {
      posted.push(message);
      const reply = answer(message);
      if (reply !== undefined) setImmediate(() => thread.emit('message', { id: message.id, ...reply }));
    };
    thread.unref = () => undefined;
    started.push(thread);
    return thread as unknown as Worker;
  };
  return { startWorker, started, posted };
}

describe('the OS keychain thread', () => {
  it('sends each call to one thread and hands back its answer', async () => {
    const items = new Map<string, string>();
    const thread = fakeThread((m) => {
      const key = `${String(m.service)}/${String(m.account)}`;
      if (m.op === 'set') return { ok: true, value: void items.set(key, String(m.password)) };
      if (m.op === 'get') return { ok: true, value: items.get(key) ?? null };
      if (m.op === 'delete') return { ok: true, value: items.delete(key) };
      return { ok: true, value: [...items].map(([k, password]) => ({ account: k.split('/')[1], password })) };
    });
    const keychain = createOsKeychain({ startWorker: thread.startWorker });
    await keychain.setPassword('svc', 'a', 'one');
    expect(await keychain.getPassword('svc', 'a')).toBe('one');
    expect(await keychain.findCredentials('svc')).toEqual([{ account: 'a', password: 'one' }]);
    expect(await keychain.deletePassword('svc', 'a')).toBe(true);
    expect(await keychain.getPassword('svc', 'a')).toBeNull();
    expect(thread.started).toHaveLength(1);
    expect(thread.posted.map((m) => m.op)).toEqual(['set', 'get', 'find', 'delete', 'get']);
  });

  it('gives up on a call at its deadline; while the thread is stuck, later calls fail at once and no thread is added', async () => {
    const thread = fakeThread(() => undefined);
    const keychain = createOsKeychain({ timeoutMs: 50, startWorker: thread.startWorker });
    const started = Date.now();
    const hanging = [1, 2, 3].map(() => keychain.getPassword('svc', 'a'));
    for (const call of hanging) {
      await expect(call).rejects.toThrowError(
        expect.objectContaining({
          code: 'KEYCHAIN_TIMEOUT',
          message: expect.stringMatching(/did not answer within 0.05 s.*unlock/),
        }),
      );
    }
    expect(Date.now() - started).toBeLessThan(2000);
    // Failed at once: not at a deadline of its own, which would mean it was posted to the stuck thread (it is not).
    await expect(keychain.findCredentials('svc')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_TIMEOUT' }),
    );
    expect(thread.started).toHaveLength(1);
    expect(thread.posted).toHaveLength(3); // the failed-at-once call never reached the stuck thread
    // Each message carries its deadline, so a thread that wakes up later skips calls nobody waits for.
    expect(thread.posted.every((m) => m.notAfter <= Date.now())).toBe(true);
  });

  it('answers again once the stuck call comes back', async () => {
    let release: (() => void) | undefined;
    const stuck = fakeThread((m) => (m.id === 1 ? undefined : { ok: true, value: 'fine' }));
    const keychain = createOsKeychain({
      timeoutMs: 30,
      startWorker: () => {
        const worker = stuck.startWorker();
        release = () => (worker as unknown as EventEmitter).emit('message', { id: 1, ok: false, message: 'expired' });
        return worker;
      },
    });
    await expect(keychain.getPassword('svc', 'a')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_TIMEOUT' }),
    );
    release!();
    expect(await keychain.getPassword('svc', 'b')).toBe('fine');
  });

  it('explains the native failures the thread reports', async () => {
    const thread = fakeThread(() => ({
      ok: false,
      message: "Couldn't access platform storage: Secret Service: unlock prompt was dismissed",
    }));
    const keychain = createOsKeychain({ startWorker: thread.startWorker });
    await expect(keychain.getPassword('svc', 'a')).rejects.toThrowError(
      expect.objectContaining({ code: 'KEYCHAIN_LOCKED' }),
    );
  });

  it('says how to fix a keychain module without a binary for this platform', async () => {
    const thread = fakeThread(() => ({
      ok: false,
      message: 'LOAD: Cannot find module @napi-rs/keyring-linux-x64-gnu',
    }));
    const keychain = createOsKeychain({ startWorker: thread.startWorker });
    await expect(keychain.getPassword('svc', 'a')).rejects.toThrowError(
      /reinstall credrelay with npm.*"store": "file"/,
    );
  });

  it('fails the calls of a thread that died, and starts a new one for the next call', async () => {
    const thread = fakeThread((m) => (m.op === 'get' ? undefined : { ok: true, value: [] }));
    const keychain = createOsKeychain({ startWorker: thread.startWorker });
    const pending = keychain.getPassword('svc', 'a');
    thread.started[0]!.emit('exit', 1);
    await expect(pending).rejects.toThrowError(/the OS keychain thread stopped/);
    expect(await keychain.findCredentials('svc')).toEqual([]);
    expect(thread.started).toHaveLength(2);
  });

  it('describes the store, and names the kernel keyring it refuses to use', async () => {
    const thread = fakeThread(() => ({
      ok: true,
      value: {
        reachable: false,
        message: 'The name org.freedesktop.secrets was not provided by any .service files',
        kernelKeyring: true,
      },
    }));
    const description = await createOsKeychain({ startWorker: thread.startWorker }).describe!();
    expect(description).toMatchObject({ kind: 'os', usable: false });
    expect(description.detail).toMatch(
      /no Secret Service.*the kernel keyring is reachable but credrelay does not use it/,
    );
  });
});

describe('explainKeychainError', () => {
  it.each([
    ['Cannot autolaunch D-Bus without X11 $DISPLAY', 'KEYCHAIN_UNAVAILABLE', /no D-Bus session bus/],
    ['The given address is empty', 'KEYCHAIN_UNAVAILABLE', /no D-Bus session bus/],
    ['Could not connect: No such file or directory', 'KEYCHAIN_UNAVAILABLE', /no D-Bus session bus/],
    [
      'Object does not exist at path “/org/freedesktop/secrets/collection/login”',
      'KEYCHAIN_UNAVAILABLE',
      /no default \(login\) keyring/,
    ],
    [
      'GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files',
      'KEYCHAIN_UNAVAILABLE',
      /no Secret Service on D-Bus: start gnome-keyring/,
    ],
    [
      'The name org.freedesktop.secrets was not provided by any .service files',
      'KEYCHAIN_UNAVAILABLE',
      /no Secret Service/,
    ],
    ['Cannot create an item in a locked collection', 'KEYCHAIN_LOCKED', /locked: unlock it/],
    // The texts @napi-rs/keyring 2.1 gives on Linux, as seen with gnome-keyring on a private bus.
    [
      'Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead',
      'KEYCHAIN_UNAVAILABLE',
      /no D-Bus session bus/,
    ],
    [
      'Platform failure: DBus error: Failed to connect to socket /run/x/bus: No such file or directory',
      'KEYCHAIN_UNAVAILABLE',
      /no D-Bus session bus/,
    ],
    [
      "Couldn't access platform storage: Secret Service: no result found",
      'KEYCHAIN_UNAVAILABLE',
      /no default \(login\) keyring/,
    ],
    [
      "Couldn't access platform storage: Secret Service: unlock prompt was dismissed",
      'KEYCHAIN_LOCKED',
      /locked: unlock it/,
    ],
    [
      'zbus error: org.freedesktop.Secret.Error.IsLocked: Cannot get secret of a locked object',
      'KEYCHAIN_LOCKED',
      /locked/,
    ],
    [
      'Platform failure: DBus error: Did not receive a reply. Possible causes include: the remote application did not send a reply',
      'KEYCHAIN_TIMEOUT',
      /did not answer/,
    ],
    ['The connection is closed', 'KEYCHAIN_UNAVAILABLE', /the connection to the D-Bus session bus was lost/],
    ['Something new', 'KEYCHAIN_FAILED', /the OS keychain failed.*Something new/],
  ])('%s', (native, code, message) => {
    const error = explainKeychainError(new Error(native));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/credrelay doctor/);
  });
});
