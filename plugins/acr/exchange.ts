import {
  type Credential,
  CredrelayError,
  type RegistryIdentity,
  foreignExcerpt,
  postTokenForm,
  isLoopback,
  jwtExpiry,
} from '../../src/plugin-api.js';

/** The user name a registry expects with an ACR refresh token as the password. */
export const ACR_TOKEN_USER = '00000000-0000-0000-0000-000000000000';
const EXCHANGE_DEADLINE_MS = 20_000;
/** How long a refresh token without an `exp` of its own is kept (ACR's are JWTs that live 3 hours). */
const REFRESH_TOKEN_FALLBACK_MS = 60 * 60 * 1000;
const REFRESH_TOKEN = /^[\x21-\x7e]{1,16384}$/;

export interface ExchangeRequest {
  readonly registry: RegistryIdentity;
  readonly accessToken: string;
  /** The tenant that issued the access token; ACR takes it to know where to check it. */
  readonly tenant: string | undefined;
  /** The credential the access token came from, in words, for messages. */
  readonly tried: string;
}

/**
 * Exchanges a Microsoft Entra access token for an ACR refresh token at the registry's `/oauth2/exchange`, as
 * `az acr login` does. HTTPS always, plain HTTP only for a registry on this machine. The refresh token is the
 * password Docker sends (with user 00000000-0000-0000-0000-000000000000) to the registry's own token endpoint.
 */
export async function exchangeForRefreshToken(request: ExchangeRequest, now = Date.now): Promise<Credential> {
  const { registry } = request;
  const url = `${isLoopback(registry) ? 'http' : 'https'}://${registry.key}/oauth2/exchange`;
  const form = new URLSearchParams({ grant_type: 'access_token', service: registry.host });
  if (request.tenant !== undefined) form.set('tenant', request.tenant);
  form.set('access_token', request.accessToken);
  const fail = (text: string) =>
    new CredrelayError('PROVIDER_FAILED', `Azure credentials for ${registry.key}: ${text}`);

  const answer = await postTokenForm(url, form, {
    deadlineMs: EXCHANGE_DEADLINE_MS,
    peer: registry.key,
    purpose: 'to exchange the Entra token',
    fail,
  });

  if (answer.status === 200) {
    const refreshToken = refreshTokenOf(answer.body);
    if (refreshToken === undefined) {
      throw fail(
        `${registry.key}/oauth2/exchange answered without a refresh token: is this an Azure container registry?`,
      );
    }
    return {
      username: ACR_TOKEN_USER,
      secret: refreshToken,
      expiresAt: jwtExpiry(refreshToken, now()) ?? new Date(now() + REFRESH_TOKEN_FALLBACK_MS),
    };
  }
  // A registry that echoes the request would quote the Entra token: it never reaches a message.
  const said = `HTTP ${answer.status}${registryMessage(answer.body.split(request.accessToken).join('[token]'))}`;
  if (answer.status === 401 || answer.status === 403) {
    throw fail(
      `${registry.key} refused the Entra token of ${request.tried} (${said}): give that identity a role that may pull from the registry (AcrPull, or Container Registry Repository Reader), in the registry's own tenant`,
    );
  }
  if (answer.status === 404) {
    throw fail(
      `${registry.key} has no /oauth2/exchange (${said}): it is not an Azure container registry; route it to another provider`,
    );
  }
  if (answer.status === 400) {
    throw fail(`${registry.key} refused the exchange request (${said}): check the route's "cloud" and "scope"`);
  }
  throw fail(`the token exchange with ${registry.key} failed (${said}): try again later`);
}

function refreshTokenOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const token =
      typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).refresh_token : undefined;
    return typeof token === 'string' && REFRESH_TOKEN.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}

/** The registry's own words for a failure (`{"errors":[{"code","message"}]}`), as a short excerpt. */
function registryMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const errors =
      typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).errors : undefined;
    if (Array.isArray(errors)) {
      const messages = errors
        .map((entry: unknown) => {
          const { code, message } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<
            string,
            unknown
          >;
          return [code, message].filter((part) => typeof part === 'string').join(': ');
        })
        .filter((text) => text !== '');
      if (messages.length > 0) return `: ${foreignExcerpt(messages.join('; '), 200)}`;
    }
  } catch {
    // Not JSON: said below.
  }
  const text = foreignExcerpt(body, 120);
  return text ? `: ${text}` : '';
}
