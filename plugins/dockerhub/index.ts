import {
  type Credential,
  CredrelayError,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  type RouteOptionValues,
  foreignExcerpt,
  postTokenForm,
  isLoopbackHost,
  jwtClaims,
  stringOption,
} from '../../src/plugin-api.js';

/** Docker's identity service: it trusts an organization's OIDC connections and mints Docker Hub access tokens. */
export const DOCKER_IDENTITY_URL = 'https://identity.docker.com';
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/**
 * The lifetimes the service grants, in seconds. The longest by default: callers keep an answer (BuildKit for 10
 * minutes) and a long build pushes at its end, so a 5-minute token would expire under them.
 */
const MIN_EXPIRES_IN = 300;
const MAX_EXPIRES_IN = 3600;
const EXCHANGE_DEADLINE_MS = 20_000;
const ACCESS_TOKEN = /^[\x21-\x7e]{1,16384}$/;

/**
 * Docker Hub through an organization's OIDC connection: the CI job's OIDC token (the route's `jobIdentity`, with
 * the identity service's URL as its audience) exchanged at Docker's identity service for a short-lived Docker Hub
 * access token, which is the password of the route's `username`. The exchange is RFC 8693 token exchange, as
 * docker/login-action makes it: `grant_type` token-exchange, the job's token as an `id_token` subject, the
 * connection's ID and the lifetime asked for. It serves only registries a `registries` entry routes to it, so the
 * Docker Hub credentials kept in the keychain still answer everywhere else.
 */
export function createDockerHubProvider(): Provider {
  return {
    name: 'dockerhub',
    about: {
      description: "Docker Hub as this CI job, through an organization's OIDC connection (no stored token)",
      hostPatterns: ['configured registries only (route docker.io to it)'],
    },
    routes: {
      options: {
        username: {
          type: 'string',
          required: true,
          description: 'the Docker Hub user or organization the token is for',
          pattern: /^[a-z0-9][a-z0-9._-]{0,254}$/i,
        },
        connectionId: {
          type: 'string',
          required: true,
          description: "the OIDC connection's ID (a UUID), from the organization's settings on Docker Hub",
          pattern: UUID,
        },
        expiresIn: {
          type: 'number',
          required: false,
          description: `the token's lifetime in seconds, ${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN} (default ${MAX_EXPIRES_IN}, the longest the service grants)`,
        },
        identityUrl: {
          type: 'string',
          required: false,
          description: `the identity service (default ${DOCKER_IDENTITY_URL}); HTTPS, or plain HTTP on this machine`,
        },
      },
      listedUsername: (options) => String(options.username),
      check(_pattern, options) {
        const expiresIn = options.expiresIn;
        if (
          expiresIn !== undefined &&
          !(Number.isInteger(expiresIn) && Number(expiresIn) >= MIN_EXPIRES_IN && Number(expiresIn) <= MAX_EXPIRES_IN)
        )
          return `"expiresIn" must be a whole number of seconds from ${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN}`;
        const written = stringOption(options, 'identityUrl');
        if (written === undefined) return undefined;
        const url = URL.canParse(written) ? new URL(written) : undefined;
        return url !== undefined &&
          (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))
          ? undefined
          : '"identityUrl" must be an https:// URL (plain http:// only on this machine)';
      },
    },
    matches: () => false,
    // A job's token is all it exchanges: it acts as the job whenever the route names a connection.
    podIdentity: {
      uses: (_pod, options) => stringOption(options, 'connectionId') !== undefined,
      annotations: () => [],
    },
    cachePolicy: { identity: (options) => `${String(options.connectionId)}/${String(options.username)}` },
    get: (registry, context) => exchange(registry, context),
  };
}

async function exchange(registry: RegistryIdentity, context: ProviderContext): Promise<Credential> {
  const { options } = context;
  const fail = (text: string) =>
    new CredrelayError('PROVIDER_FAILED', `Docker Hub credentials for ${registry.key}: ${text}`);
  const job = context.podIdentity;
  if (job === undefined) {
    throw fail(
      'the dockerhub provider exchanges a CI job\'s OIDC token: give the route "jobIdentity" (audience https://identity.docker.com)',
    );
  }
  const identityUrl = identityUrlOf(options);
  // The job's token goes only where it was minted for: one for AWS or Google (a shared token file, a GitLab variable
  // named on the wrong route) is not sent to Docker's identity service at all.
  const audiences = audiencesOf(job.token);
  const expected = [DOCKER_IDENTITY_URL, identityUrl];
  if (!audiences.some((audience) => expected.includes(audience.replace(/\/+$/, '')))) {
    throw fail(
      `the job's token is for ${audiences.length === 0 ? 'no audience' : `audience ${audiences.map((audience) => JSON.stringify(foreignExcerpt(audience, 80))).join(', ')}`}, not Docker's identity service; it was not sent: give the route's jobIdentity the audience ${DOCKER_IDENTITY_URL}`,
    );
  }
  const expiresIn = typeof options.expiresIn === 'number' ? options.expiresIn : MAX_EXPIRES_IN;
  const form = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    subject_token: job.token,
    connection_id: String(options.connectionId),
    expires_in: String(expiresIn),
  });
  const startedAt = Date.now();
  const answer = await postTokenForm(`${identityUrl}/oauth/token`, form, {
    deadlineMs: EXCHANGE_DEADLINE_MS,
    peer: identityUrl,
    fail,
  });

  // A service that echoes the request would quote the job's token: it never reaches a message.
  const said = () => serviceMessage(answer.body.split(job.token).join('[token]'));
  if (answer.status === 200) {
    const token = accessTokenOf(answer.body);
    if (token === undefined) throw fail(`${identityUrl} answered without an access token`);
    return { username: String(options.username), secret: token, expiresAt: new Date(startedAt + expiresIn * 1000) };
  }
  if (answer.status === 400 || answer.status === 401 || answer.status === 403) {
    throw fail(
      `Docker's identity service refused the job's token for connection ${String(options.connectionId)} (HTTP ${answer.status}${said()}): check that the connection trusts this repository and branch, and that the route's jobIdentity audience is ${identityUrl}`,
    );
  }
  throw fail(`${identityUrl} answered HTTP ${answer.status}${said()}: retry later`);
}

/** The audiences a job token names (`aud`, a string or a list). */
function audiencesOf(token: string): string[] {
  const aud = jwtClaims(token)?.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((entry): entry is string => typeof entry === 'string') : [];
}

/** The identity service's origin: checked when the configuration loaded (`check`). */
const identityUrlOf = (options: RouteOptionValues): string =>
  new URL(stringOption(options, 'identityUrl') ?? DOCKER_IDENTITY_URL).origin;

function accessTokenOf(body: string): string | undefined {
  try {
    const token = (JSON.parse(body) as { access_token?: unknown }).access_token;
    return typeof token === 'string' && ACCESS_TOKEN.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}

/** The service's own `error` and `error_description` (OAuth's fields), short and printable. */
function serviceMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    const parts = [parsed.error, parsed.error_description].filter((part) => typeof part === 'string');
    return parts.length === 0 ? '' : `: ${foreignExcerpt(parts.join(': '), 160)}`;
  } catch {
    return '';
  }
}
