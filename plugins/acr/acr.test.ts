import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { httpExchange } from '../../src/plugin-api.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { acrCloudOf } from './acr-host.js';
import { type EntraTokenRequest, credentialInUse, explainEntraError } from './entra-token.js';
import { ACR_TOKEN_USER, exchangeForRefreshToken } from './exchange.js';
import { createAcrProvider } from './index.js';
import { ACR_SPOOFS } from '../../test/fixtures/acr-spoofs.js';

const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5';
const inThreeHours = () => Math.floor(Date.now() / 1000) + 3 * 3600;

const fakeRefresh = jwt({ exp: inThreeHours(), iss: 'Azure Container Registry' });
const counting = () => {
  const calls = { entra: [] as EntraTokenRequest[], exchange: 0 };
  const provider = createAcrProvider({
    entraToken: async (request) => {
      calls.entra.push(request);
      return jwt({ tid: TENANT, appid: CLIENT });
    },
    exchange: async () => {
      calls.exchange += 1;
      return { username: ACR_TOKEN_USER, secret: fakeRefresh, expiresAt: new Date(inThreeHours() * 1000) };
    },
  });
  return { provider, calls };
};

runProviderContract('acr', {
  create: () => counting().provider,
  ownHosts: [
    'myregistry.azurecr.io',
    'https://myregistry.azurecr.io/v2/',
    'MYREGISTRY.AZURECR.IO',
    'myregistry.azurecr.io:443',
    'contoso-e7b2f1g5gvbxh9cd.azurecr.io',
    'registry1.azurecr.cn',
    'registry1.azurecr.us',
  ],
  spoofedHosts: ACR_SPOOFS,
  answers: { host: 'myregistry.azurecr.io' },
  fails: {
    host: 'myregistry.azurecr.io',
    podIdentity: {
      token: 'pod-token',
      namespace: 'team-a',
      serviceAccount: 'puller',
      annotations: { 'azure.workload.identity/client-id': 'not-a-guid', 'azure.workload.identity/tenant-id': TENANT },
    },
    outcome: /names an Azure client or tenant that is not an ID/,
  },
});

describe('acr hosts', () => {
  it('has at least 50 spoofs, and none routes to acr, so none reaches Entra or an exchange', async () => {
    expect(ACR_SPOOFS.length).toBeGreaterThanOrEqual(50);
    const { provider } = counting();
    let refusedByParser = 0;
    for (const spoof of ACR_SPOOFS) {
      let registry;
      try {
        registry = parseRegistry(spoof);
      } catch {
        refusedByParser += 1;
        continue;
      }
      expect(provider.matches(registry), spoof).toBe(false);
    }
    expect(refusedByParser).toBeLessThan(ACR_SPOOFS.length / 2); // most reach the matcher, and it refuses them
  });

  it('knows the cloud of each suffix', () => {
    expect(acrCloudOf(parseRegistry('r1.azurecr.io'))).toBe('AzureCloud');
    expect(acrCloudOf(parseRegistry('r1.azurecr.cn'))).toBe('AzureChinaCloud');
    expect(acrCloudOf(parseRegistry('r1.azurecr.us'))).toBe('AzureUSGovernment');
    expect(acrCloudOf(parseRegistry('r1.azurecr.io:5000'))).toBeUndefined();
  });
});

describe('acr provider', () => {
  it('asks Entra in the cloud of the host, for its audience, and sends the token tenant to the exchange', async () => {
    const exchanged: unknown[] = [];
    const provider = createAcrProvider({
      entraToken: async () => jwt({ tid: TENANT }),
      exchange: async (request) => {
        exchanged.push({ ...request, accessToken: '(token)' });
        return { username: ACR_TOKEN_USER, secret: fakeRefresh };
      },
    });
    const { provider: counted, calls } = counting();
    await counted.get(parseRegistry('r1.azurecr.cn'), testContext());
    await counted.get(parseRegistry('r1.azurecr.us'), testContext({ tenantId: 'contoso.onmicrosoft.com' }));
    await counted.get(parseRegistry('r1.example'), testContext({ scope: 'https://containerregistry.azure.net' }));
    await counted.get(parseRegistry('r2.example'), testContext({ cloud: 'AzureUSGovernment', clientId: CLIENT }));
    await counted.get(parseRegistry('r3.example'), testContext({ instanceDiscovery: false }));
    expect(calls.entra.map(({ registry, ...rest }) => [registry, rest])).toEqual([
      [
        'r1.azurecr.cn',
        {
          scope: 'https://management.chinacloudapi.cn/.default',
          authorityHost: 'https://login.chinacloudapi.cn',
          tenantId: undefined,
          clientId: undefined,
          instanceDiscovery: true,
        },
      ],
      [
        'r1.azurecr.us',
        {
          scope: 'https://management.usgovcloudapi.net/.default',
          authorityHost: 'https://login.microsoftonline.us',
          tenantId: 'contoso.onmicrosoft.com',
          clientId: undefined,
          instanceDiscovery: true,
        },
      ],
      [
        'r1.example',
        {
          scope: 'https://containerregistry.azure.net/.default',
          authorityHost: 'https://login.microsoftonline.com',
          tenantId: undefined,
          clientId: undefined,
          instanceDiscovery: true,
        },
      ],
      [
        'r2.example',
        {
          scope: 'https://management.usgovcloudapi.net/.default',
          authorityHost: 'https://login.microsoftonline.us',
          tenantId: undefined,
          clientId: CLIENT,
          instanceDiscovery: true,
        },
      ],
      [
        'r3.example',
        {
          scope: 'https://containerregistry.azure.net/.default',
          authorityHost: 'https://login.microsoftonline.com',
          tenantId: undefined,
          clientId: undefined,
          instanceDiscovery: false,
        },
      ],
    ]);
    const answer = await provider.get(parseRegistry('myregistry.azurecr.io'), testContext());
    expect(answer).toEqual({ username: ACR_TOKEN_USER, secret: fakeRefresh });
    expect(exchanged).toEqual([
      expect.objectContaining({
        tenant: TENANT,
        accessToken: '(token)',
        registry: parseRegistry('myregistry.azurecr.io'),
      }),
    ]);
  });

  it("as a pod: its token as the client assertion of the annotated application (or the route's)", async () => {
    const { provider, calls } = counting();
    const pod = {
      token: 'pod-token',
      annotations: { 'azure.workload.identity/client-id': CLIENT, 'azure.workload.identity/tenant-id': TENANT },
      namespace: 'ns',
      serviceAccount: 'sa',
    };
    const saved = process.env.AZURE_TENANT_ID;
    delete process.env.AZURE_TENANT_ID;
    try {
      expect(provider.podIdentity!.uses(pod, {})).toBe(true);
      expect(provider.podIdentity!.uses({ ...pod, annotations: {} }, {})).toBe(false);
      expect(provider.podIdentity!.uses({ ...pod, annotations: {} }, { clientId: CLIENT, tenantId: TENANT })).toBe(
        true,
      );
      await provider.get(parseRegistry('myregistry.azurecr.io'), { ...testContext(), podIdentity: pod });
      expect(calls.entra.at(-1)).toMatchObject({
        clientId: CLIENT,
        tenantId: TENANT,
        pod: { token: 'pod-token', serviceAccount: 'ns/sa' },
      });
      const bad = { ...pod, annotations: { ...pod.annotations, 'azure.workload.identity/client-id': 'nope' } };
      expect(() => provider.podIdentity!.uses(bad, {})).toThrow(/names an Azure client or tenant that is not an ID/);
    } finally {
      if (saved !== undefined) process.env.AZURE_TENANT_ID = saved;
    }
  });

  it('refuses a cloud that contradicts the host, and unknown options', () => {
    const { provider } = counting();
    const check = provider.routes!.check!;
    const exact = (host: string) => ({ kind: 'exact' as const, key: host, identity: parseRegistry(host) });
    expect(check(exact('r1.azurecr.cn'), { cloud: 'AzureCloud' })).toMatch(/is a registry of AzureChinaCloud/);
    expect(check(exact('r1.example'), { cloud: 'AzureChinaCloud' })).toBeUndefined();
    expect(provider.routes!.options.cloud!.pattern!.test('Mars')).toBe(false);
    expect(provider.routes!.options.clientId!.pattern!.test('not-a-guid')).toBe(false);
    expect(provider.routes!.options.scope!.pattern!.test('http://containerregistry.azure.net')).toBe(false);
  });

  it('keys the cache by tenant, client, cloud and scope', () => {
    const { provider } = counting();
    const identity = provider.cachePolicy!.identity!;
    const saved = { tenant: process.env.AZURE_TENANT_ID, client: process.env.AZURE_CLIENT_ID };
    delete process.env.AZURE_TENANT_ID;
    delete process.env.AZURE_CLIENT_ID;
    try {
      expect(identity({})).toBe('default credentials');
      expect(identity({ tenantId: TENANT, clientId: CLIENT })).toBe(`tenant=${TENANT} client=${CLIENT}`);
      process.env.AZURE_CLIENT_ID = CLIENT;
      expect(identity({ cloud: 'AzureChinaCloud' })).toBe(`client=${CLIENT} cloud=AzureChinaCloud`);
    } finally {
      if (saved.tenant === undefined) delete process.env.AZURE_TENANT_ID;
      else process.env.AZURE_TENANT_ID = saved.tenant;
      if (saved.client === undefined) delete process.env.AZURE_CLIENT_ID;
      else process.env.AZURE_CLIENT_ID = saved.client;
    }
  });
});

describe('the exchange at /oauth2/exchange', () => {
  let server: Server;
  let host: string;
  let respond: (request: IncomingMessage, body: string, response: ServerResponse) => void;
  const seen: {
    url: string | undefined;
    method: string | undefined;
    type: string | undefined;
    form: Record<string, string>;
  }[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({
          url: request.url,
          method: request.method,
          type: request.headers['content-type'],
          form: Object.fromEntries(new URLSearchParams(body)),
        });
        respond(request, body, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const exchange = (accessToken = 'entra-access-token') =>
    exchangeForRefreshToken({
      registry: parseRegistry(host),
      accessToken,
      tenant: TENANT,
      tried: 'the service principal x',
    });

  it("posts the form ACR reads, and answers the refresh token with ACR's user, until the token's exp", async () => {
    const exp = inThreeHours();
    const refresh = jwt({ exp });
    respond = (_request, _body, response) =>
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ refresh_token: refresh }));
    seen.length = 0;
    expect(await exchange()).toEqual({ username: ACR_TOKEN_USER, secret: refresh, expiresAt: new Date(exp * 1000) });
    expect(seen).toEqual([
      {
        url: '/oauth2/exchange',
        method: 'POST',
        type: 'application/x-www-form-urlencoded',
        form: { grant_type: 'access_token', service: '127.0.0.1', tenant: TENANT, access_token: 'entra-access-token' },
      },
    ]);
  });

  it('explains a refusal, names the identity and the role it needs, and never quotes the Entra token', async () => {
    respond = (_request, body, response) =>
      response
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: `bad token ${body}` }] }));
    const refused = await exchange('entra-secret-token-value').catch((error: Error) => error);
    expect(refused).toMatchObject({ code: 'PROVIDER_FAILED' });
    expect((refused as Error).message).toMatch(
      /refused the Entra token of the service principal x \(HTTP 401: UNAUTHORIZED: bad token .*\): give that identity a role that may pull/,
    );
    expect((refused as Error).message).not.toContain('entra-secret-token-value');
  });

  it('says what a 404, a 400, a 5xx and an answer without a token mean; never "not found"', async () => {
    const cases: Array<[number, string, RegExp]> = [
      [
        404,
        '404 page not found',
        /has no \/oauth2\/exchange \(HTTP 404: 404 page not found\): it is not an Azure container registry/,
      ],
      [
        400,
        '{"errors":[{"code":"BAD_REQUEST","message":"invalid service"}]}',
        /refused the exchange request \(HTTP 400: BAD_REQUEST: invalid service\)/,
      ],
      [503, 'busy', /the token exchange with .* failed \(HTTP 503: busy\): try again later/],
      [200, '{"access_token":"x"}', /answered without a refresh token: is this an Azure container registry\?/],
      [200, '{"refresh_token":"has space"}', /answered without a refresh token/],
    ];
    for (const [status, body, message] of cases) {
      respond = (_request, _body, response) => response.writeHead(status).end(body);
      await expect(exchange(), `${status} ${body}`).rejects.toThrow(message);
    }
  });

  it('an answer that never ends is cut off; a closed port is "cannot reach"', async () => {
    respond = (_request, _body, response) => {
      response.writeHead(200);
      response.end('x'.repeat(200 * 1024));
    };
    await expect(exchange()).rejects.toThrow(/answer longer than 65536 bytes/);
    await expect(
      exchangeForRefreshToken({
        registry: parseRegistry('127.0.0.1:1'),
        accessToken: 't',
        tenant: undefined,
        tried: 'x',
      }),
    ).rejects.toThrow(/cannot reach 127\.0\.0\.1:1 to exchange the Entra token \(ECONNREFUSED\)/);
  });

  it('uses plain HTTP only on this machine', async () => {
    await expect(httpExchange('http://myregistry.azurecr.io/oauth2/exchange', { deadlineMs: 1000 })).rejects.toThrow(
      /refusing http:\/\/ to myregistry\.azurecr\.io: only HTTPS leaves this machine/,
    );
    await expect(httpExchange('http://127.0.0.1.attacker.example/', { deadlineMs: 1000 })).rejects.toThrow(/refusing/);
  });

  it('stops waiting at the deadline', async () => {
    respond = () => undefined; // never answers
    const started = Date.now();
    await expect(httpExchange(`http://${host}/oauth2/exchange`, { deadlineMs: 300 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('Entra errors, explained', () => {
  const request: EntraTokenRequest = {
    registry: 'myregistry.azurecr.io',
    scope: 'https://containerregistry.azure.net/.default',
    authorityHost: 'https://login.microsoftonline.com',
    instanceDiscovery: true,
  };
  const withEnvironment = <T>(env: Record<string, string>, body: () => T): T => {
    const names = Object.keys(process.env).filter((name) => /^(AZURE_|IDENTITY_|MSI_)/.test(name));
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    for (const name of names) delete process.env[name];
    Object.assign(process.env, env);
    try {
      return body();
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  };

  it('names the credential in use', () => {
    const principal = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's' };
    expect(withEnvironment(principal, () => credentialInUse({}))).toBe(
      `the service principal ${CLIENT} in tenant ${TENANT} (client secret, from AZURE_* variables)`,
    );
    expect(
      withEnvironment({ AZURE_FEDERATED_TOKEN_FILE: '/t', AZURE_CLIENT_ID: CLIENT }, () => credentialInUse({})),
    ).toBe(`the workload identity ${CLIENT} (AZURE_FEDERATED_TOKEN_FILE)`);
    expect(
      withEnvironment({ IDENTITY_ENDPOINT: 'http://127.0.0.1:1' }, () => credentialInUse({ clientId: CLIENT })),
    ).toBe(`the managed identity ${CLIENT} (IDENTITY_ENDPOINT)`);
    expect(withEnvironment({}, () => credentialInUse({}))).toBe(
      "the managed identity of this machine, or the Azure CLI's login",
    );
  });

  it('turns each failure into what failed and what to do, without the secret', () => {
    const principal = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 'the-client-secret' };
    const refused = withEnvironment(principal, () =>
      explainEntraError(
        Object.assign(new Error('x'), {
          name: 'AuthenticationError',
          statusCode: 401,
          errorResponse: {
            error: 'invalid_client',
            errorDescription: 'AADSTS7000215: Invalid client secret provided.',
          },
        }),
        request,
      ),
    );
    expect(refused.message).toBe(
      `Azure credentials for myregistry.azurecr.io: Microsoft Entra refused the service principal ${CLIENT} in tenant ${TENANT} (client secret, from AZURE_* variables) (invalid_client: AADSTS7000215: Invalid client secret provided.): the client secret or certificate is wrong or expired: create a new one and set it`,
    );
    const none = explainEntraError(
      Object.assign(new Error('ChainedTokenCredential authentication failed.'), {
        name: 'AggregateAuthenticationError',
        errors: [
          { name: 'CredentialUnavailableError', message: 'EnvironmentCredential is unavailable.' },
          { name: 'CredentialUnavailableError', message: 'Azure CLI could not be found.' },
        ],
      }),
      request,
    );
    expect(none.message).toMatch(/no Azure credential is available: run `az login`; or set AZURE_TENANT_ID/);
    expect(none.message).toMatch(/\(tried: EnvironmentCredential is unavailable; Azure CLI could not be found\)$/);
    const late = explainEntraError(Object.assign(new Error('t'), { code: 'ETIMEDOUT' }), request);
    expect(late.message).toMatch(/Microsoft Entra did not answer within 20 s for .*: check the network/);
    for (const error of [refused, none, late]) expect(error.code).toBe('PROVIDER_FAILED');
    expect(refused.message).not.toContain('the-client-secret');
  });
});
