import { CredrelayError, missingServerURL, missingUsername } from '../errors.js';

/** What Docker sends to `store` and receives from `get` (docker-credential-helpers `credentials.Credentials`). */
export interface Credentials {
  readonly ServerURL: string;
  readonly Username: string;
  readonly Secret: string;
}

/** Docker's helpers read stdin with a bufio.Scanner, whose line limit is 64 KiB; a server string is one line. */
export const MAX_SERVER_URL_BYTES = 64 * 1024;
/** A store document holds a server, a user name and a token; 1 MiB is far beyond any real one. */
export const MAX_STORE_BYTES = 1024 * 1024;

/**
 * Decodes stdin as the reference helpers do: lines joined without their line breaks (bufio.ScanLines drops a
 * trailing `\r` too). Invalid UTF-8 becomes U+FFFD, which the registry parser then rejects.
 */
function joinLines(input: Uint8Array): string {
  return new TextDecoder('utf-8').decode(input).split(/\r?\n/).join('');
}

/** The server string of `get` and `erase`: lines joined, surrounding whitespace trimmed, never empty. */
export function decodeServerURL(input: Uint8Array): string {
  if (input.byteLength > MAX_SERVER_URL_BYTES) {
    throw new CredrelayError(
      'INPUT_TOO_LARGE',
      `the server URL on stdin is larger than ${MAX_SERVER_URL_BYTES / 1024} KiB; pass one registry host`,
    );
  }
  const serverURL = joinLines(input).trim();
  if (serverURL.length === 0) throw missingServerURL();
  return serverURL;
}

const CREDENTIAL_FIELDS = ['ServerURL', 'Username', 'Secret'] as const;
type CredentialField = (typeof CREDENTIAL_FIELDS)[number];

/**
 * Decodes a `store` document the way Go's encoding/json fills the Credentials struct: field names match
 * case-insensitively, unknown fields are ignored, `null` leaves a field empty, and any other non-string
 * value is an error. Our messages never quote the input: it holds a secret.
 */
export function decodeStoreRequest(input: Uint8Array): Credentials {
  if (input.byteLength > MAX_STORE_BYTES) {
    throw new CredrelayError(
      'INPUT_TOO_LARGE',
      `the credentials document on stdin is larger than ${MAX_STORE_BYTES / (1024 * 1024)} MiB`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(joinLines(input));
  } catch {
    throw new CredrelayError(
      'INVALID_INPUT',
      'stdin is not valid JSON; store expects {"ServerURL":"…","Username":"…","Secret":"…"}',
    );
  }
  // Go decodes `null` into a struct as "no fields": the missing-URL error follows.
  if (document === null) document = {};
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new CredrelayError(
      'INVALID_INPUT',
      'stdin must be a JSON object; store expects {"ServerURL":"…","Username":"…","Secret":"…"}',
    );
  }

  const fields: Record<CredentialField, string> = { ServerURL: '', Username: '', Secret: '' };
  for (const [name, value] of Object.entries(document)) {
    const field = CREDENTIAL_FIELDS.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (field === undefined || value === null) continue;
    if (typeof value !== 'string') {
      throw new CredrelayError('INVALID_INPUT', `the ${field} field must be a string`);
    }
    fields[field] = value;
  }
  if (fields.ServerURL.length === 0) throw missingServerURL();
  if (fields.Username.length === 0) throw missingUsername();
  return fields;
}

/**
 * JSON exactly as Go's encoding/json writes it: HTML-significant characters and the JavaScript line
 * separators are escaped. Docker does not need this, but it keeps our output byte-identical to the
 * reference helpers' (`<token>` comes out as `\u003ctoken\u003e`).
 */
export function goJSON(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => {
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** The `get` answer, with the trailing newline of Go's json.Encoder. */
export function encodeCredentials(credentials: Credentials): string {
  const { ServerURL, Username, Secret } = credentials;
  return `${goJSON({ ServerURL, Username, Secret })}\n`;
}

/** The `list` answer: keys sorted, as Go encodes a map. */
export function encodeList(entries: ReadonlyMap<string, string>): string {
  const sorted: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const serverURL of [...entries.keys()].sort()) sorted[serverURL] = entries.get(serverURL)!;
  return `${goJSON(sorted)}\n`;
}
