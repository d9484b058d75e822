/**
 * The one error type of credrelay.
 *
 * Docker and skopeo only ever see an error as the text a helper prints, and they match some of those texts
 * exactly (`credentials not found in native keychain`, `no credentials server URL`, `no credentials username`).
 * So every error carries a stable code for our own logic and tests, and a message that is safe to print:
 * it says what failed and what to do, on one line, and never contains a secret.
 */
export type ErrorCode =
  /** Docker matches this message and then carries on anonymously. */
  | 'CREDENTIALS_NOT_FOUND'
  | 'MISSING_SERVER_URL'
  | 'MISSING_USERNAME'
  | 'INVALID_SERVER_URL'
  | 'INVALID_INPUT'
  | 'INPUT_TOO_LARGE'
  | 'KEYCHAIN_UNAVAILABLE'
  | 'KEYCHAIN_LOCKED'
  | 'KEYCHAIN_TIMEOUT'
  | 'KEYCHAIN_FAILED'
  /** The encrypted file store has no key at hand: `credrelay unlock`, or CREDRELAY_STORE_KEY_FILE. */
  | 'STORE_LOCKED'
  /** The passphrase does not open the encrypted file store. */
  | 'STORE_WRONG_KEY'
  | 'STORE_FAILED'
  | 'CONFIG_INVALID'
  /** A secret reference names a secret that is set nowhere. */
  | 'SECRET_MISSING'
  | 'SECRET_INVALID'
  /** A provider serves the registry but could not obtain a credential: never reported as "not found". */
  | 'PROVIDER_FAILED'
  /** Only some repositories of the registry are routed, and the request names none (Docker's protocol). */
  | 'ROUTE_NEEDS_REPOSITORY'
  /** A route answers kubelet only as the pod, and the request cannot be (no token, nothing to act as). */
  | 'POD_IDENTITY_REQUIRED'
  | 'DAEMON_UNSAFE'
  /** As many daemons as one user may run already serve other environments, all in use. */
  | 'DAEMON_LIMIT'
  /** The registry refused the credential given to `credrelay login`. */
  | 'LOGIN_REJECTED'
  | 'LOGIN_FAILED'
  | 'INTERNAL';

/** Messages that Docker's client library compares byte for byte (docker-credential-helpers `credentials/error.go`). */
export const CREDENTIALS_NOT_FOUND_MESSAGE = 'credentials not found in native keychain';
const MISSING_SERVER_URL_MESSAGE = 'no credentials server URL';
const MISSING_USERNAME_MESSAGE = 'no credentials username';

/**
 * Marks every CredrelayError, of whichever copy of this module made it. One process can hold several copies: the
 * CLI and the Node client are bundles (docs/build.md), and a plugin imports `credrelay/provider` from the package's
 * module tree or from an install of its own. A symbol in the process-wide registry makes `instanceof` one test across
 * them all, where a class object alone would tell the copies apart.
 */
const CREDRELAY_ERROR: unique symbol = Symbol.for('credrelay.CredrelayError');

/** An error whose message is fit for a user's terminal and for Docker's error output. */
export class CredrelayError extends Error {
  override readonly name = 'CredrelayError';
  readonly [CREDRELAY_ERROR] = true;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    // One line: the protocol prints errors as a single line on stdout.
    super(message.replace(/[\r\n]+/g, ' '));
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { [CREDRELAY_ERROR]?: unknown })[CREDRELAY_ERROR] === true
    );
  }
}

export const credentialsNotFound = (): CredrelayError =>
  new CredrelayError('CREDENTIALS_NOT_FOUND', CREDENTIALS_NOT_FOUND_MESSAGE);

export const missingServerURL = (): CredrelayError =>
  new CredrelayError('MISSING_SERVER_URL', MISSING_SERVER_URL_MESSAGE);

export const missingUsername = (): CredrelayError => new CredrelayError('MISSING_USERNAME', MISSING_USERNAME_MESSAGE);

export const isCredrelayError = (error: unknown, code?: ErrorCode): error is CredrelayError =>
  error instanceof CredrelayError && (code === undefined || error.code === code);

/**
 * Turns anything thrown into a CredrelayError without copying foreign text that might hold a secret
 * (V8's JSON.parse errors, for one, quote the input they failed on).
 */
export function toCredrelayError(error: unknown): CredrelayError {
  // Also a CredrelayError of another copy of this module (a bundle's, a plugin's): see CREDRELAY_ERROR.
  if (error instanceof CredrelayError) return error;
  return new CredrelayError(
    'INTERNAL',
    'credrelay failed unexpectedly; run `credrelay doctor`, and report the problem if it persists',
  );
}
