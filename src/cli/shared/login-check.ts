import type { IncomingHttpHeaders } from 'node:http';
import { CredrelayError } from '../../core/errors.js';
import { type RegistryIdentity, isLoopback } from '../../core/registry/identity.js';

/** Every request of a login check has this long. */
const REQUEST_TIMEOUT_MS = 10_000;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The host Docker talks to for a registry: Docker Hub's API lives at registry-1.docker.io. */
const apiHost = (registry: RegistryIdentity): string =>
  registry.isDockerHub
    ? 'registry-1.docker.io'
    : registry.port === undefined
      ? registry.host
      : `${registry.host}:${registry.port}`;

async function request(url: URL, headers: Record<string, string>, insecure: boolean): Promise<Answer> {
  const client = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'GET',
        headers,
        timeout: REQUEST_TIMEOUT_MS,
        ...(url.protocol === 'https:' && insecure ? { rejectUnauthorized: false } : {}),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < 64 * 1024) body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end();
  });
}

/** Parses `Bearer realm="…",service="…",scope="…"` into its scheme and parameters. */
function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[2]!.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g))
    params[key!.toLowerCase()] = quoted ?? bare ?? '';
  return { scheme: match[1]!.toLowerCase(), params };
}

function parseRealm(text: string, registry: RegistryIdentity): URL {
  try {
    return new URL(text);
  } catch {
    throw new CredrelayError('LOGIN_FAILED', `${registry.key} names a token service that is not a URL`);
  }
}

/**
 * Where the password may go. The token service (realm) gets Basic credentials, so:
 * - never over a scheme weaker than the registry's: a registry reached over TLS whose realm is plain HTTP is refused,
 *   --insecure or not;
 * - plain HTTP only to the registry's own loopback origin (the same host and port), or with --insecure;
 * - no scheme but HTTP and HTTPS.
 */
function checkRealm(realm: URL, base: URL, registry: RegistryIdentity, insecure: boolean): void {
  if (realm.protocol === 'https:') return;
  if (realm.protocol !== 'http:') {
    throw new CredrelayError(
      'LOGIN_FAILED',
      `${registry.key} names a token service over ${realm.protocol}, which credrelay does not use`,
    );
  }
  if (base.protocol === 'https:') {
    throw new CredrelayError(
      'LOGIN_FAILED',
      `${registry.key} is reached over TLS but sends logins to a token service without it (${realm.origin}); credrelay will not send the password there`,
    );
  }
  if (realm.host !== base.host && !insecure) {
    throw new CredrelayError(
      'LOGIN_FAILED',
      `${registry.key} sends logins to a token service on another host or port without TLS (${realm.origin}); pass --insecure if you trust it`,
    );
  }
}

/**
 * Checks a username and password against a registry as `docker login` does: GET /v2/; on a Basic challenge, again
 * with Basic authentication; on a Bearer challenge, the token endpoint it names, with Basic authentication. HTTPS
 * first; plain HTTP only for loopback registries and those the user marks insecure (which also accept any
 * certificate). Throws LOGIN_REJECTED when the registry refuses the credential, LOGIN_FAILED when it cannot be asked.
 */
export async function verifyLogin(
  registry: RegistryIdentity,
  username: string,
  password: string,
  insecure: boolean,
): Promise<void> {
  const plainAllowed = insecure || isLoopback(registry);
  const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  let base: URL | undefined;
  let first: Answer | undefined;
  let lastError: unknown;
  for (const scheme of plainAllowed ? ['https:', 'http:'] : ['https:']) {
    const url = new URL(`${scheme}//${apiHost(registry)}/v2/`);
    try {
      first = await request(url, {}, insecure);
      base = url;
      break;
    } catch (error) {
      lastError = error;
    }
  }
  if (first === undefined || base === undefined) {
    const code = (lastError as NodeJS.ErrnoException | undefined)?.code ?? 'error';
    throw new CredrelayError(
      'LOGIN_FAILED',
      `cannot reach ${registry.key} to check the credential (${code})${plainAllowed ? '' : '; for a registry without TLS, pass --insecure'}; pass --no-verify to store it unchecked`,
    );
  }
  if (first.status === 200) return; // A registry that asks for nothing accepts anyone.
  const challenge = parseChallenge(first.headers['www-authenticate'] as string | undefined);
  if (first.status !== 401 || challenge === undefined) {
    throw new CredrelayError(
      'LOGIN_FAILED',
      `${registry.key} answered /v2/ with HTTP ${first.status} and no authentication challenge; is it a registry?`,
    );
  }
  let verdict: Answer;
  if (challenge.scheme === 'basic') {
    verdict = await request(base, { authorization: basic }, insecure);
  } else if (challenge.scheme === 'bearer' && challenge.params.realm) {
    const realm = parseRealm(challenge.params.realm, registry);
    checkRealm(realm, base, registry, insecure);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('account', username);
    verdict = await request(realm, { authorization: basic }, insecure);
  } else {
    throw new CredrelayError(
      'LOGIN_FAILED',
      `${registry.key} asks for "${challenge.scheme}" authentication, which credrelay cannot check; pass --no-verify to store it unchecked`,
    );
  }
  if (verdict.status === 401 || verdict.status === 403) {
    throw new CredrelayError(
      'LOGIN_REJECTED',
      `${registry.key} rejected the credentials of ${username} (HTTP ${verdict.status}); nothing was stored`,
    );
  }
  if (verdict.status < 200 || verdict.status >= 300) {
    throw new CredrelayError(
      'LOGIN_FAILED',
      `${registry.key} answered the login check with HTTP ${verdict.status}; nothing was stored`,
    );
  }
}
