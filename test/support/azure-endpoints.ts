import { randomUUID } from 'node:crypto';
import {
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  request as httpRequest,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { unsignedJwt } from './jwt.js';
import type { Registry } from './registry.js';
import type { TestCertificates } from './tls.js';

/**
 * Azure's side of an ACR pull, on loopback, speaking the real protocols: Microsoft Entra's v2 token endpoint (over
 * HTTPS, as MSAL requires), an App Service managed-identity endpoint, and a container registry front that exchanges
 * Entra tokens at /oauth2/exchange, issues access tokens at /oauth2/token for exactly the refresh tokens it gave
 * out, and passes /v2/ on to a real registry.
 */

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', () => resolve(text));
  });
const json = (response: ServerResponse, status: number, body: unknown) =>
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Access tokens the fake Entra and managed identity issued, with who they were issued to. */
export type IssuedTokens = Map<string, { tenant: string; client: string }>;

export interface Entra {
  /** `https://127.0.0.1:PORT`: AZURE_AUTHORITY_HOST. */
  readonly authorityHost: string;
  readonly issued: IssuedTokens;
  /** Token requests, successful or not. */
  tokenRequests(): number;
  stop(): Promise<void>;
}

/** An application registered in the fake Entra: a client secret, or federated tokens it accepts as assertions. */
export interface EntraApp {
  readonly clientId: string;
  readonly clientSecret?: string;
  /** Workload identity: the exact service-account tokens (client assertions) this application trusts. */
  readonly assertions?: readonly string[];
}

/** Entra's v2 endpoints for one tenant and its applications (client secret or client assertion). */
export async function startEntra(
  certificates: TestCertificates,
  tenant: string,
  apps: readonly EntraApp[],
  issued: IssuedTokens,
): Promise<Entra> {
  let requests = 0;
  let base = '';
  const server = createHttpsServer({ key: certificates.key, cert: certificates.cert }, async (request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === `/${tenant}/v2.0/.well-known/openid-configuration`) {
      json(response, 200, {
        token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
        issuer: `${base}/${tenant}/v2.0`,
        jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
      });
      return;
    }
    if (request.method === 'POST' && path === `/${tenant}/oauth2/v2.0/token`) {
      requests += 1;
      const form = new URLSearchParams(await readBody(request));
      const app = apps.find((candidate) => candidate.clientId === form.get('client_id'));
      if (form.get('grant_type') !== 'client_credentials' || app === undefined) {
        json(response, 400, {
          error: 'unauthorized_client',
          error_description: `AADSTS700016: Application with identifier '${form.get('client_id')}' was not found in the directory.`,
        });
        return;
      }
      const assertion = form.get('client_assertion');
      const viaAssertion =
        form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
        assertion !== null &&
        (app.assertions ?? []).includes(assertion);
      const viaSecret = app.clientSecret !== undefined && form.get('client_secret') === app.clientSecret;
      if (!viaAssertion && !viaSecret) {
        json(response, 401, {
          error: 'invalid_client',
          error_description: assertion
            ? `AADSTS700213: No matching federated identity record found for presented assertion subject.`
            : `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
        });
        return;
      }
      const token = unsignedJwt({
        aud: (form.get('scope') ?? '').replace(/\/\.default$/, ''),
        tid: tenant,
        appid: app.clientId,
        exp: Math.floor(Date.now() / 1000) + 3600,
        jti: randomUUID(),
      });
      issued.set(token, { tenant, client: app.clientId });
      json(response, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      return;
    }
    json(response, 404, { error: 'not_found' });
  });
  base = `https://127.0.0.1:${await listen(server)}`;
  return { authorityHost: base, issued, tokenRequests: () => requests, stop: () => close(server) };
}

export interface ManagedIdentity {
  /** IDENTITY_ENDPOINT and IDENTITY_HEADER, as App Service sets them. */
  readonly environment: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  tokenRequests(): number;
  stop(): Promise<void>;
}

/** App Service's managed-identity endpoint (api-version 2019-08-01) for one identity. */
export async function startManagedIdentity(
  identity: { tenant: string; clientId: string },
  issued: IssuedTokens,
): Promise<ManagedIdentity> {
  const header = randomUUID();
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.headers['x-identity-header'] !== header || url.searchParams.get('api-version') !== '2019-08-01') {
      json(response, 401, { error: 'unauthorized', error_description: 'missing or wrong X-IDENTITY-HEADER' });
      return;
    }
    const resource = url.searchParams.get('resource') ?? '';
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    const token = unsignedJwt({
      aud: resource,
      tid: identity.tenant,
      appid: identity.clientId,
      exp: expiresOn,
      jti: randomUUID(),
    });
    issued.set(token, { tenant: identity.tenant, client: identity.clientId });
    json(response, 200, {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  });
  const port = await listen(server);
  return {
    environment: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: header },
    tokenRequests: () => requests,
    stop: () => close(server),
  };
}

/** The refresh-token user, as ACR expects it. */
export const ACR_USER = '00000000-0000-0000-0000-000000000000';

export interface FakeAcr {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** Exchanges answered with a refresh token. */
  exchanges(): number;
  /** Refresh tokens given out, newest last. */
  readonly refreshTokens: string[];
  /** Every request's method and path, and the form of each exchange (the access token masked). */
  readonly log: string[];
  stop(): Promise<void>;
}

/**
 * A registry front as ACR behaves: `/oauth2/exchange` takes an Entra access token that `accepts` approves and
 * returns a refresh token (a JWT with `exp`); `/oauth2/token` returns an access token for Basic `ACR_USER:<refresh
 * token>`; `/v2/` answers 401 with a Bearer challenge unless it carries such an access token, and is otherwise passed
 * to `backend` with the backend's own credentials.
 */
export async function startFakeAcr(
  backend: Registry,
  accepts: (accessToken: string) => boolean,
  refreshLifetimeSeconds = 3 * 3600,
): Promise<FakeAcr> {
  const refreshTokens: string[] = [];
  const accessTokens = new Set<string>();
  const log: string[] = [];
  let exchanges = 0;
  let host = '';
  const backendAuthorization = `Basic ${Buffer.from(`${backend.username}:${backend.password}`).toString('base64')}`;

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', `http://${host}`);
    log.push(`${request.method} ${url.pathname}`);
    if (url.pathname === '/oauth2/exchange' && request.method === 'POST') {
      const form = new URLSearchParams(await readBody(request));
      const accessToken = form.get('access_token') ?? '';
      log.push(`exchange ${JSON.stringify({ ...Object.fromEntries(form), access_token: '…' })}`);
      if (form.get('grant_type') !== 'access_token' || form.get('service') !== '127.0.0.1' || !accepts(accessToken)) {
        json(response, 401, {
          errors: [
            {
              code: 'UNAUTHORIZED',
              message: 'authentication required, visit https://aka.ms/acr/authorization for more information.',
            },
          ],
        });
        return;
      }
      exchanges += 1;
      const refreshToken = unsignedJwt({
        jti: randomUUID(),
        sub: 'acr-test',
        grant_type: 'refresh_token',
        tenant: form.get('tenant'),
        exp: Math.floor(Date.now() / 1000) + refreshLifetimeSeconds,
      });
      refreshTokens.push(refreshToken);
      json(response, 200, { refresh_token: refreshToken });
      return;
    }
    if (url.pathname === '/oauth2/token' && request.method === 'GET') {
      const expected = refreshTokens.map((token) => `Basic ${Buffer.from(`${ACR_USER}:${token}`).toString('base64')}`);
      if (!expected.includes(request.headers.authorization ?? '')) {
        json(response, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
        return;
      }
      const accessToken = randomUUID();
      accessTokens.add(accessToken);
      json(response, 200, { access_token: accessToken });
      return;
    }
    if (url.pathname.startsWith('/v2/')) {
      const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (bearer === undefined || !accessTokens.has(bearer)) {
        const repository = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1];
        const scope = repository ? `,scope="repository:${repository}:pull,push"` : '';
        response
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="http://${host}/oauth2/token",service="127.0.0.1"${scope}`,
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      const [backendHost, backendPort] = backend.host.split(':');
      const forwarded = httpRequest(
        {
          host: backendHost,
          port: Number(backendPort),
          method: request.method,
          path: request.url,
          headers: { ...request.headers, authorization: backendAuthorization },
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forwarded.on('error', () => response.destroy());
      request.pipe(forwarded);
      return;
    }
    json(response, 404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
  });
  host = `127.0.0.1:${await listen(server)}`;
  return { host, exchanges: () => exchanges, refreshTokens, log, stop: () => close(server) };
}
