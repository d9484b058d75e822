import {
  type Credential,
  CredrelayError,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  NETWORK_ERROR_CODES,
  httpExchange,
  isLoopback,
  referencedSecret,
  stringOption,
} from '../../src/plugin-api.js';
import { type FoundToken, GITHUB_CLI_VARIABLES, ghLogin, tokenFromEnvironmentOrGh } from './token-source.js';

/** GitHub Container Registry: exactly this host, on the standard port. (docker.pkg.github.com is no longer served.) */
const GHCR_HOST = 'ghcr.io';
/** A GitHub token is long-lived: kept this long in daemon memory, so that a rotated one is picked up soon after. */
const GHCR_KEEP_SECONDS = 300;
const CHECK_DEADLINE_MS = 10_000;

export const isGhcr = (registry: RegistryIdentity): boolean =>
  registry.host === GHCR_HOST && registry.port === undefined;

/**
 * GitHub Container Registry with a GitHub token from, in order: the route's `tokenSecret`, GH_TOKEN or GITHUB_TOKEN
 * in the caller's environment, or the GitHub CLI (`gh auth token`). GHCR checks the token; the username must not
 * be empty, and credrelay sends the route's `username`, GITHUB_ACTOR, or the GitHub CLI's login.
 */
export function createGhcrProvider(): Provider {
  const tokenFor = async (context: ProviderContext): Promise<FoundToken> => {
    const secret = stringOption(context.options, 'tokenSecret');
    const name = secret === undefined ? undefined : referencedSecret(secret);
    if (name !== undefined) return { token: await context.resolveSecret(name), origin: 'secret' };
    return tokenFromEnvironmentOrGh();
  };
  const usernameFor = async (context: ProviderContext): Promise<string> =>
    stringOption(context.options, 'username') ?? (process.env.GITHUB_ACTOR || (await ghLogin()) || 'credrelay');

  const get = async (_registry: RegistryIdentity, context: ProviderContext): Promise<Credential> => {
    const [{ token }, username] = await Promise.all([tokenFor(context), usernameFor(context)]);
    return { username, secret: token };
  };

  return {
    name: 'ghcr',
    about: {
      description: 'GitHub Container Registry: a GitHub token from a secret, GH_TOKEN/GITHUB_TOKEN, or the GitHub CLI',
      hostPatterns: [GHCR_HOST],
      reads: GITHUB_CLI_VARIABLES,
    },
    routes: {
      listedUsername: (options) => stringOption(options, 'username'),
      options: {
        tokenSecret: {
          type: 'string',
          description: 'a secret reference such as "$GHCR_TOKEN" (a personal access token with read:packages)',
          pattern: /^\$[A-Za-z_][A-Za-z0-9_]*$/,
        },
        username: {
          type: 'string',
          description: "the GitHub login to send (default: GITHUB_ACTOR, or the GitHub CLI's)",
          pattern: /^[A-Za-z0-9-]{1,39}$/,
        },
      },
    },
    matches: isGhcr,
    cachePolicy: {
      identity: (options) => {
        const secret = stringOption(options, 'tokenSecret');
        return secret ? `token in secret ${secret.slice(1)}` : 'GH_TOKEN, GITHUB_TOKEN or gh';
      },
      keepSeconds: () => GHCR_KEEP_SECONDS,
    },
    get,
    diagnostics: {
      async diagnose(registry, context) {
        const [{ token, origin }, username] = await Promise.all([tokenFor(context), usernameFor(context)]);
        const source = origin === 'secret' ? "the route's secret" : origin === 'gh' ? 'the GitHub CLI' : origin;
        const verdict = await checkToken(registry, username, token);
        return `a token from ${source} for ${username}; ${verdict}`;
      },
    },
  };
}

/**
 * Asks the registry's token endpoint whether it accepts the token (Docker's token flow: `/token` with Basic
 * authentication). Plain HTTP only for a registry on this machine. Unreachable is said, not failed: a laptop offline
 * still has a working set-up.
 */
async function checkToken(registry: RegistryIdentity, username: string, token: string): Promise<string> {
  const scheme = isLoopback(registry) ? 'http' : 'https';
  const url = `${scheme}://${registry.key}/token?service=${encodeURIComponent(registry.host)}&scope=${encodeURIComponent(`repository:${username.toLowerCase()}/credrelay-check:pull`)}`;
  const authorization = `Basic ${Buffer.from(`${username}:${token}`).toString('base64')}`;
  const status = await httpExchange(url, { headers: { authorization }, deadlineMs: CHECK_DEADLINE_MS }).then(
    (answer) => answer.status,
    (error: NodeJS.ErrnoException) => {
      if (NETWORK_ERROR_CODES.has(error.code ?? '')) return undefined;
      throw error;
    },
  );
  if (status === undefined) return `${registry.key} could not be reached to check it`;
  if (status === 200) return `${registry.key} accepts it`;
  if (status === 401 || status === 403) {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `${registry.key} refused the token (HTTP ${status}): it is expired, revoked, or lacks read:packages; create a new one and store it`,
    );
  }
  return `${registry.key}'s token endpoint answered HTTP ${status}`;
}
