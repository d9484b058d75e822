import { CredrelayError } from '../../src/errors.js';
import { withDeadline } from '../../src/util/deadline.js';
import { isDefaultCollectionLocked } from './lock-state.js';

/** The four calls credrelay makes of an OS keychain; keytar's own shape, so a fake can stand in for it in tests. */
export interface SecretStore {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<Array<{ account: string; password: string }>>;
}

/** A keychain that answers slower than this is treated as broken: Docker is waiting on us. */
export const KEYCHAIN_TIMEOUT_MS = 5000;

const DOCTOR = 'or run `credrelay doctor`';

/**
 * Explains a keychain failure. The causes below are the ones libsecret reports on Linux (seen with gnome-keyring
 * on a private bus); the native text is kept at the end because it is what a search engine knows.
 * Native keychain messages describe D-Bus and the keychain, never the password that was passed in.
 */
export function explainKeychainError(error: unknown): CredrelayError {
  const native = error instanceof Error ? error.message : String(error);
  const detail = ` (${native.replace(/\s+/g, ' ').slice(0, 200)})`;
  if (
    /autolaunch D-Bus|DBUS_SESSION_BUS_ADDRESS|address is empty|Could not connect|Failed to connect to socket|Connection refused/i.test(
      native,
    )
  ) {
    return new CredrelayError(
      'KEYCHAIN_UNAVAILABLE',
      `no D-Bus session bus for the OS keychain: set DBUS_SESSION_BUS_ADDRESS or start one with dbus-run-session, ${DOCTOR}${detail}`,
    );
  }
  if (/connection is closed|Underlying GIOStream returned 0 bytes/i.test(native)) {
    return new CredrelayError(
      'KEYCHAIN_UNAVAILABLE',
      `the connection to the D-Bus session bus was lost (the bus restarted or the session ended): retry; if it persists, check DBUS_SESSION_BUS_ADDRESS ${DOCTOR}${detail}`,
    );
  }
  if (/Object does not exist at path .*collection/i.test(native)) {
    return new CredrelayError(
      'KEYCHAIN_UNAVAILABLE',
      `the Secret Service has no default (login) keyring to keep credentials in: log in to a desktop session, or create one with gnome-keyring-daemon --unlock (it reads the new password on stdin), ${DOCTOR}${detail}`,
    );
  }
  if (/org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service/i.test(native)) {
    return new CredrelayError(
      'KEYCHAIN_UNAVAILABLE',
      `no Secret Service on D-Bus: start gnome-keyring (gnome-keyring-daemon --start --components=secrets) ${DOCTOR}${detail}`,
    );
  }
  if (/locked/i.test(native)) {
    return new CredrelayError(
      'KEYCHAIN_LOCKED',
      `the OS keychain is locked: unlock it (log in to the desktop session, or gnome-keyring-daemon --unlock) ${DOCTOR}${detail}`,
    );
  }
  return new CredrelayError(
    'KEYCHAIN_FAILED',
    `the OS keychain failed; check it is running and unlocked, ${DOCTOR}${detail}`,
  );
}

type Keytar = SecretStore;

const lostListeners = new Set<() => void>();

/**
 * Hears when a keychain that worked in this process becomes unreachable. libsecret keeps its connection to the
 * Secret Service for the life of the process and keytar cannot drop it, so a long-lived process (the daemon) that
 * loses its keyring must be replaced to reach it again.
 */
export function onKeychainLost(listener: () => void): () => void {
  lostListeners.add(listener);
  return () => lostListeners.delete(listener);
}

const importKeytar = async (): Promise<Keytar> => {
  const module = await import('keytar');
  return (module.default ?? module) as Keytar;
};

/**
 * The real OS keychain through keytar (macOS Keychain, Windows Credential Manager, libsecret on Linux).
 * keytar is a native module; it is loaded on first use so the protocol path stays light until it needs it.
 * Every call gets a deadline, because a keychain waiting on an unlock prompt nobody sees never answers.
 */
export function createKeytarStore(
  timeoutMs = KEYCHAIN_TIMEOUT_MS,
  loadKeytar: () => Promise<Keytar> = importKeytar,
  isLocked: (timeoutMs: number) => Promise<boolean | undefined> = isDefaultCollectionLocked,
): SecretStore {
  let keytar: Promise<Keytar> | undefined;
  const load = (): Promise<Keytar> =>
    (keytar ??= loadKeytar().catch(() => {
      keytar = undefined;
      throw new CredrelayError(
        'KEYCHAIN_UNAVAILABLE',
        `the keychain module (keytar) could not be loaded: on Linux install libsecret-1-0 and reinstall credrelay, ${DOCTOR}`,
      );
    }));

  let worked = false;
  const call = <T>(what: string, run: (keytar: Keytar) => Promise<T>): Promise<T> =>
    withDeadline(
      load().then(run),
      timeoutMs,
      () =>
        new CredrelayError(
          'KEYCHAIN_TIMEOUT',
          `the OS keychain did not answer within ${timeoutMs / 1000} s (${what}): it may be locked and waiting for an unlock prompt; unlock it ${DOCTOR}`,
        ),
    ).then(
      (result) => {
        worked = true;
        return result;
      },
      (error: unknown) => {
        const explained = error instanceof CredrelayError ? error : explainKeychainError(error);
        if (worked && explained.code === 'KEYCHAIN_UNAVAILABLE') {
          worked = false;
          for (const listener of lostListeners) listener();
        }
        throw explained;
      },
    );

  /** An empty answer from a locked keychain is not an answer: see lock-state.ts. */
  const unlessLocked = async <T>(answer: T, empty: boolean): Promise<T> => {
    if (empty && (await isLocked(timeoutMs)) === true) {
      throw new CredrelayError(
        'KEYCHAIN_LOCKED',
        `the OS keychain is locked, so its credentials cannot be read: unlock it (log in to the desktop session, or gnome-keyring-daemon --unlock) ${DOCTOR}`,
      );
    }
    return answer;
  };

  return {
    getPassword: (service, account) =>
      call('read', (k) => k.getPassword(service, account)).then((found) => unlessLocked(found, found === null)),
    setPassword: (service, account, password) => call('write', (k) => k.setPassword(service, account, password)),
    deletePassword: (service, account) =>
      call('delete', (k) => k.deletePassword(service, account)).then((deleted) => unlessLocked(deleted, !deleted)),
    findCredentials: (service) =>
      call('list', (k) => k.findCredentials(service)).then((items) => unlessLocked(items, items.length === 0)),
  };
}
