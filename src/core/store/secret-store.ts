import { CredrelayError, type ErrorCode } from '../errors.js';

/**
 * The four calls credrelay makes of a place that keeps secrets: the OS keychain or the encrypted file store.
 * Items are addressed by (service, account), so a fake over a Map can stand in for either in tests.
 */
export interface SecretStore {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  /** Whether there was something to remove. */
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<FoundCredential[]>;
  /** Which store this is and whether it can be used now, for `credrelay doctor` and `credrelay route`. */
  describe?(): Promise<StoreDescription>;
}

/** One item of a service, as `findCredentials` lists it. */
export interface FoundCredential {
  readonly account: string;
  readonly password: string;
}

/** The keychain service under which credrelay keeps registry credentials, apart from everything else there. */
export const REGISTRY_SERVICE = 'credrelay';

/** What a store says about itself; never a secret. */
export interface StoreDescription {
  /** `os` or `file`, as the configuration's `store` key names them. */
  readonly kind: 'os' | 'file';
  /** For people: "Secret Service (D-Bus)", "encrypted file ~/.local/share/credrelay/store.json". */
  readonly backend: string;
  /** Whether a call would reach it now. */
  readonly usable: boolean;
  /** Why not, and what to do; or a remark about a usable store. */
  readonly detail?: string;
}

/** A keychain that answers slower than this is treated as broken: Docker is waiting on us. */
export const KEYCHAIN_TIMEOUT_MS = 5000;

const DOCTOR = 'or run `credrelay doctor`';

/**
 * Explains a keychain failure. The causes below are the ones the Secret Service client reports on Linux (seen with
 * gnome-keyring on a private bus); the native text is kept at the end because it is what a search engine knows.
 * Native keychain messages describe D-Bus and the keychain, never the password that was passed in.
 */
export function explainKeychainError(error: unknown): CredrelayError {
  const native = error instanceof Error ? error.message : String(error);
  const detail = ` (${native.replace(/\s+/g, ' ').slice(0, 200)})`;
  const explained = (code: ErrorCode, text: string) => new CredrelayError(code, `${text}, ${DOCTOR}${detail}`);
  if (
    /autolaunch|DBUS_SESSION_BUS_ADDRESS|address is empty|Could not connect|Failed to connect|Connection refused/i.test(
      native,
    )
  ) {
    return explained(
      'KEYCHAIN_UNAVAILABLE',
      'no D-Bus session bus for the OS keychain: set DBUS_SESSION_BUS_ADDRESS or start one with dbus-run-session',
    );
  }
  if (/connection is closed|Underlying GIOStream returned 0 bytes|Connection reset/i.test(native)) {
    return explained(
      'KEYCHAIN_UNAVAILABLE',
      'the connection to the D-Bus session bus was lost (the bus restarted or the session ended): retry; if it persists, check DBUS_SESSION_BUS_ADDRESS',
    );
  }
  if (/Object does not exist at path .*collection|Secret Service: no result found/i.test(native)) {
    return explained(
      'KEYCHAIN_UNAVAILABLE',
      'the Secret Service has no default (login) keyring to keep credentials in: log in to a desktop session, or create one with gnome-keyring-daemon --unlock (it reads the new password on stdin)',
    );
  }
  if (/org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service/i.test(native)) {
    return explained(
      'KEYCHAIN_UNAVAILABLE',
      'no Secret Service on D-Bus: start gnome-keyring (gnome-keyring-daemon --start --components=secrets)',
    );
  }
  // Before "locked": D-Bus's no-reply text says the reply may have been "blocked".
  if (/Did not receive a reply|timed? ?out/i.test(native)) {
    return explained(
      'KEYCHAIN_TIMEOUT',
      'the OS keychain did not answer: it may be stopped, or waiting for an unlock prompt nobody sees; unlock or restart it',
    );
  }
  if (/\b(is)?locked\b|unlock prompt/i.test(native)) {
    return explained(
      'KEYCHAIN_LOCKED',
      'the OS keychain is locked: unlock it (log in to the desktop session, or gnome-keyring-daemon --unlock)',
    );
  }
  return explained('KEYCHAIN_FAILED', 'the OS keychain failed; check it is running and unlocked');
}
