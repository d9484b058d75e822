import { toCredrelayError } from '../errors.js';
import { type Credentials, decodeServerURL, decodeStoreRequest, encodeCredentials, encodeList } from './codec.js';

/** The actions of the docker-credential protocol; each is the helper's first argument. */
const PROTOCOL_ACTIONS = ['get', 'store', 'erase', 'list', 'version'] as const;
export type ProtocolAction = (typeof PROTOCOL_ACTIONS)[number];

export const isProtocolAction = (word: string | undefined): word is ProtocolAction =>
  (PROTOCOL_ACTIONS as readonly string[]).includes(word ?? '');

/** Per-request facilities a helper may use. */
export interface RequestContext {
  /** Says something to the user's terminal (stderr); the protocol answer on stdout stays clean. */
  notice(line: string): void;
}

/** What answers the protocol: the four methods of docker-credential-helpers' `Helper`, asynchronous. */
export interface CredentialHelper {
  /** Throws the not-found error when nothing serves `serverURL`. */
  get(serverURL: string, context: RequestContext): Promise<{ username: string; secret: string }>;
  store(credentials: Credentials, context: RequestContext): Promise<void>;
  erase(serverURL: string, context: RequestContext): Promise<void>;
  /** Stored entries as `{serverURL: username}`; never a network call. */
  list(context: RequestContext): Promise<ReadonlyMap<string, string>>;
}

/** What a helper process writes: stdout is the protocol answer; notices go to stderr. */
export interface ProtocolReply {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: 0 | 1;
}

/**
 * Runs one protocol action. Errors become one line on stdout and exit code 1, exactly as Docker's own
 * helpers do, because Docker reads the error text from stdout.
 *
 * Docker does not show that text: for `get` it treats any failure as "no credentials" and the user sees only
 * `no basic auth credentials`; `docker logout` reports success whatever `erase` said, and a failed `store` or
 * `list` is shown as a bare exit status. So every failure other than not-found also goes to stderr, which Docker
 * passes through to the terminal, prefixed `credrelay:`. Not-found stays silent, as with Docker's own helpers.
 */
/**
 * Failures Docker's client library recognises by their text and reports itself, as typed errors: not echoed on
 * stderr, as Docker's own helpers do not.
 */
const LIBRARY_TYPED: ReadonlySet<string> = new Set(['CREDENTIALS_NOT_FOUND', 'MISSING_SERVER_URL', 'MISSING_USERNAME']);

export async function handleAction(
  action: ProtocolAction,
  input: Uint8Array,
  helper: CredentialHelper,
  version: string,
): Promise<ProtocolReply> {
  const notices: string[] = [];
  const context: RequestContext = { notice: (line) => notices.push(`${line}\n`) };
  try {
    const stdout = await answer(action, input, helper, version, context);
    return { stdout, stderr: notices.join(''), exitCode: 0 };
  } catch (error) {
    const failure = toCredrelayError(error);
    if (!LIBRARY_TYPED.has(failure.code)) notices.push(`credrelay: ${failure.message}\n`);
    return { stdout: `${failure.message}\n`, stderr: notices.join(''), exitCode: 1 };
  }
}

async function answer(
  action: ProtocolAction,
  input: Uint8Array,
  helper: CredentialHelper,
  version: string,
  context: RequestContext,
): Promise<string> {
  switch (action) {
    case 'get': {
      const serverURL = decodeServerURL(input);
      const { username, secret } = await helper.get(serverURL, context);
      return encodeCredentials({ ServerURL: serverURL, Username: username, Secret: secret });
    }
    case 'store':
      await helper.store(decodeStoreRequest(input), context);
      return '';
    case 'erase':
      await helper.erase(decodeServerURL(input), context);
      return '';
    case 'list':
      return encodeList(await helper.list(context));
    case 'version':
      return `${versionLine(version)}\n`;
  }
}

/** The `version` line, in the format of the reference helpers: `name (package) version`. */
export const versionLine = (version: string): string => `docker-credential-credrelay (credrelay) ${version}`;

/** The reference helpers' answer to a wrong number of arguments. */
export const USAGE_LINE = 'Usage: docker-credential-credrelay <store|get|erase|list|version>';
