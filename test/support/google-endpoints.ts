import { type IncomingMessage, type Server, createServer } from 'node:http';

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
};
const body = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', () => resolve(text));
  });

/** A GCE/GKE metadata server on loopback, reached by google-auth-library through GCE_METADATA_HOST. */
export interface MetadataServer {
  /** `127.0.0.1:PORT`, the value for GCE_METADATA_HOST. */
  readonly host: string;
  /** How many access tokens it has handed out. */
  tokenCalls(): number;
  /** Lifetime of the tokens it hands out from now on, in seconds. */
  expiresIn: number;
  /** Answer token requests with this HTTP status instead of a token. */
  failTokensWith: number | undefined;
  stop(): Promise<void>;
}

export async function startMetadataServer(): Promise<MetadataServer> {
  let tokens = 0;
  const state: { expiresIn: number; failTokensWith: number | undefined } = {
    expiresIn: 3600,
    failTokensWith: undefined,
  };
  const server = createServer((request, response) => {
    // The real server refuses requests without this header, and the library checks the answer carries it.
    if (request.headers['metadata-flavor'] !== 'Google') {
      response.writeHead(403).end();
      return;
    }
    const headers = { 'metadata-flavor': 'Google' };
    const path = (request.url ?? '').split('?')[0];
    if (path === '/computeMetadata/v1/instance/service-accounts/default/token') {
      tokens += 1;
      if (state.failTokensWith !== undefined) {
        response.writeHead(state.failTokensWith, headers).end('injected failure');
        return;
      }
      response.writeHead(200, { ...headers, 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ access_token: `ya29.metadata-${tokens}`, expires_in: state.expiresIn, token_type: 'Bearer' }),
      );
    } else if (path === '/computeMetadata/v1/instance' || path === '/computeMetadata/v1/') {
      response.writeHead(200, headers).end('');
    } else if (path === '/computeMetadata/v1/project/project-id') {
      response.writeHead(200, headers).end('credrelay-test');
    } else if (path === '/computeMetadata/v1/universe/universe-domain') {
      response.writeHead(200, headers).end('googleapis.com');
    } else {
      response.writeHead(404, headers).end();
    }
  });
  const host = await listen(server);
  return {
    host,
    tokenCalls: () => tokens,
    get expiresIn() {
      return state.expiresIn;
    },
    set expiresIn(value: number) {
      state.expiresIn = value;
    },
    get failTokensWith() {
      return state.failTokensWith;
    },
    set failTokensWith(value: number | undefined) {
      state.failTokensWith = value;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Google's STS token exchange on loopback, named as `token_url` by a workload identity federation file. */
export interface StsServer {
  readonly tokenUrl: string;
  readonly exchanges: URLSearchParams[];
  stop(): Promise<void>;
}

export async function startStsServer(): Promise<StsServer> {
  const exchanges: URLSearchParams[] = [];
  const server = createServer(async (request, response) => {
    exchanges.push(new URLSearchParams(await body(request)));
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        access_token: `ya29.federated-${exchanges.length}`,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        expires_in: 3600,
      }),
    );
  });
  const host = await listen(server);
  return {
    tokenUrl: `http://${host}/v1/token`,
    exchanges,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** IAM Credentials' generateAccessToken on loopback: a token for the service account named in the path. */
export interface IamCredentialsServer {
  /** `http://127.0.0.1:PORT`: a route's iamCredentialsEndpoint. */
  readonly endpoint: string;
  /** Each call: the service account, and the bearer token it was made with. */
  readonly calls: { serviceAccount: string; bearer: string }[];
  stop(): Promise<void>;
}

export async function startIamCredentials(): Promise<IamCredentialsServer> {
  const calls: { serviceAccount: string; bearer: string }[] = [];
  const server = createServer(async (request, response) => {
    await body(request);
    const match = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(request.url ?? '');
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (request.method !== 'POST' || match === null || bearer === undefined) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":404}}');
      return;
    }
    const serviceAccount = decodeURIComponent(match[1]!);
    calls.push({ serviceAccount, bearer });
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        accessToken: `ya29.impersonated-${serviceAccount}-${calls.length}`,
        expireTime: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
  });
  const host = await listen(server);
  return { endpoint: `http://${host}`, calls, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
