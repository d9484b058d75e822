/**
 * The acr provider against Azure's protocols on loopback: Microsoft Entra over HTTPS (a test CA trusted through
 * NODE_EXTRA_CA_CERTS) or an App Service managed-identity endpoint, a registry front that exchanges Entra tokens
 * for refresh tokens and accepts only the ones it issued, and skopeo pushing and reading through credrelay.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACR_USER,
  type Entra,
  type FakeAcr,
  type IssuedTokens,
  type ManagedIdentity,
  startEntra,
  startFakeAcr,
  startManagedIdentity,
} from '../support/azure-endpoints.js';
import { CLI, HELPER, pathWithCredrelay, run, runHelper } from '../support/helper.js';
import { configureDockerFor, writeCredrelayConfig } from '../support/config.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';
import { makeTestCertificates } from '../support/tls.js';
import { ACR_SPOOFS } from '../fixtures/acr-spoofs.js';

const TENANT = '8c2d7e4a-51f3-4b0e-9d6a-3f1e2c5b7a90';
const APP = {
  tenant: TENANT,
  clientId: '4f1b0c9e-2d7a-4e63-8b5f-6a3c1d9e0b27',
  clientSecret: 'entra-client-secret-5531',
};
const WORKLOAD = {
  clientId: '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e',
  assertions: ['kubernetes-service-account-token-7713'],
};
const MANAGED = { tenant: TENANT, clientId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' };

let session: Keyring;
let backend: Registry;
let entra: Entra;
let managed: ManagedIdentity;
let acr: FakeAcr;
let refusing: FakeAcr;
const issued: IssuedTokens = new Map();
/** The caller with a service principal in its environment. */
let env: Record<string, string>;
/** The caller on a machine with a managed identity, and nothing else. */
let managedEnv: Record<string, string>;

beforeAll(async () => {
  session = await startKeyring();
  backend = await startRegistry('acr-backend', 'acr-backend-pass-6610');
  const certificates = makeTestCertificates(session.root);
  [entra, managed] = await Promise.all([
    startEntra(certificates, TENANT, [APP, WORKLOAD], issued),
    startManagedIdentity(MANAGED, issued),
  ]);
  // The front accepts exactly the Entra tokens issued for the registry audience in its tenant.
  [acr, refusing] = await Promise.all([
    startFakeAcr(backend, (token) => issued.get(token)?.tenant === TENANT),
    startFakeAcr(backend, () => false),
  ]);
  const base = {
    ...session.env,
    PATH: pathWithCredrelay(),
    NODE_EXTRA_CA_CERTS: certificates.caPath,
    CREDRELAY_LOG_LEVEL: 'debug',
  };
  env = {
    ...base,
    AZURE_TENANT_ID: APP.tenant,
    AZURE_CLIENT_ID: APP.clientId,
    AZURE_CLIENT_SECRET: APP.clientSecret,
    AZURE_AUTHORITY_HOST: entra.authorityHost,
  };
  // Only the managed identity: no Azure CLI, PowerShell or Developer CLI on this PATH either.
  managedEnv = { ...base, ...managed.environment };
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: {
      // Loopback registries are custom domains to credrelay, routed to acr; a private authority needs no discovery.
      [acr.host]: { provider: 'acr', instanceDiscovery: false },
      [refusing.host]: { provider: 'acr', instanceDiscovery: false },
      // An Azure registry whose admin user is kept in the keychain instead.
      'keptadmin.azurecr.io': { provider: 'keychain' },
    },
  });
  // The daemon up before anything is counted: a cold start on a loaded machine may answer a first burst in-process.
  expect((await runHelper('list', '', env)).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await session?.stop();
  await Promise.all([backend?.stop(), entra?.stop(), managed?.stop(), acr?.stop(), refusing?.stop()]);
});

const daemonLog = () => readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');

describe('acr with a service principal (Entra over HTTPS)', () => {
  it('skopeo pushes and reads an image: one Entra token, one exchange, then the cached refresh token', async () => {
    const [entraBefore, exchangesBefore] = [entra.tokenRequests(), acr.exchanges()];
    const { pushed, inspected } = await pushAndInspect(acr.host, session.home, env, 'team/app:1');
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(inspected.code).toBe(0);
    expect(JSON.parse(inspected.stdout).Name).toBe(`${acr.host}/team/app`);
    expect(entra.tokenRequests() - entraBefore).toBe(1);
    expect(acr.exchanges() - exchangesBefore).toBe(1);
    // The exchange carried what ACR reads, the tenant from the Entra token.
    expect(acr.log).toContain(
      `exchange ${JSON.stringify({ grant_type: 'access_token', service: '127.0.0.1', tenant: TENANT, access_token: '…' })}`,
    );
  });

  it("get answers ACR's user and the refresh token the registry issued; in-process the same", async () => {
    const warm = await runHelper('get', acr.host, env);
    expect(warm.code).toBe(0);
    const answer = JSON.parse(warm.stdout);
    expect(answer).toEqual({ ServerURL: acr.host, Username: ACR_USER, Secret: acr.refreshTokens.at(-1) });
    const inProcess = await runHelper('get', acr.host, { ...env, CREDRELAY_NO_DAEMON: '1' });
    expect(inProcess.stderr).toBe('');
    const fresh = JSON.parse(inProcess.stdout);
    expect(fresh.Username).toBe(ACR_USER);
    expect(acr.refreshTokens).toContain(fresh.Secret);
  });

  it('10 concurrent gets on a cold cache make one exchange', async () => {
    await runHelper('erase', acr.host, env); // drops the cached refresh token
    const before = acr.exchanges();
    const answers = await Promise.all(Array.from({ length: 10 }, () => runHelper('get', acr.host, env)));
    const secrets = new Set(answers.map((answer) => JSON.parse(answer.stdout).Secret));
    expect(secrets.size).toBe(1);
    expect(acr.exchanges() - before).toBe(1);
    expect([...secrets][0]).toBe(acr.refreshTokens.at(-1));
  });

  it('a registry that refuses the token: an explained error, never "not found"', async () => {
    const result = await runHelper('get', refusing.host, env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^Azure credentials for ${refusing.host.replace(/\./g, '\\.')}: ${refusing.host.replace(/\./g, '\\.')} refused the Entra token of the service principal ${APP.clientId} in tenant ${TENANT} \\(client secret, from AZURE_\\* variables\\) \\(HTTP 401: UNAUTHORIZED: authentication required, .*\\): give that identity a role that may pull from the registry \\(AcrPull`,
      ),
    );
    expect(result.stderr).toBe(`credrelay: ${result.stdout}`);
  });

  it("a wrong client secret: Entra's refusal, explained, without the secret", async () => {
    const wrong = { ...env, AZURE_CLIENT_SECRET: 'entra-wrong-secret-0007' };
    const result = await runHelper('get', acr.host, wrong);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /Microsoft Entra refused the service principal .* \(invalid_client: AADSTS7000215: Invalid client secret provided\..*\): the client secret or certificate is wrong or expired: create a new one and set it\n$/,
    );
    expect(result.stdout + result.stderr).not.toContain('entra-wrong-secret-0007');
  });

  it('spoofs of the routed registry and of Azure hosts never reach Entra or an exchange', async () => {
    const [port] = acr.host.split(':').slice(1);
    const spoofs = [
      ...ACR_SPOOFS,
      `${acr.host}.attacker.example`,
      `https://${acr.host}@attacker.example`,
      `attacker.example/${acr.host}`,
      `127.0.0.2:${port}`,
      `127.0.0.1:${Number(port) + 1}`,
      `127.0.0.1`,
    ];
    const [entraBefore, exchangesBefore, requestsBefore] = [entra.tokenRequests(), acr.exchanges(), acr.log.length];
    for (const spoof of spoofs) {
      const result = await runHelper('get', spoof, env);
      expect(result.stdout, spoof).not.toMatch(/Secret/);
      expect(result.code, spoof).toBe(1);
    }
    expect(entra.tokenRequests()).toBe(entraBefore);
    expect(acr.exchanges()).toBe(exchangesBefore);
    expect(acr.log.length).toBe(requestsBefore);
  });

  it('serves kubelet too, and doctor proves the chain', async () => {
    const kubelet = await run(HELPER, ['kubelet'], {
      env,
      input: JSON.stringify({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderRequest',
        image: `${acr.host}/team/app:1`,
      }),
    });
    expect(JSON.parse(kubelet.stdout).auth[acr.host]).toEqual({
      username: ACR_USER,
      password: acr.refreshTokens.at(-1),
    });
    const doctor = await run(CLI, ['doctor'], { env });
    expect(doctor.stdout).toMatch(
      new RegExp(
        `^✓ acr for ${acr.host.replace(/\./g, '\\.')} +Entra principal ${APP.clientId} in tenant ${TENANT}, exchanged by ${acr.host.replace(/\./g, '\\.')} for a refresh token valid until \\d{4}-`,
        'm',
      ),
    );
    expect(doctor.stdout).toMatch(
      new RegExp(`^✗ acr for ${refusing.host.replace(/\./g, '\\.')} +.*refused the Entra token`, 'm'),
    );
  });

  it('no token reaches the debug log; AZURE_LOG_LEVEL prints nothing in-process', async () => {
    const log = daemonLog();
    expect(log).toMatch(/"level":"debug"/);
    for (const token of [...issued.keys(), ...acr.refreshTokens, APP.clientSecret]) expect(log).not.toContain(token);
    const verbose = await runHelper('get', acr.host, { ...env, CREDRELAY_NO_DAEMON: '1', AZURE_LOG_LEVEL: 'verbose' });
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toBe('');
  });
});

describe('acr with workload identity', () => {
  it('presents the token in AZURE_FEDERATED_TOKEN_FILE as a client assertion, and skopeo reads the image', async () => {
    const tokenFile = join(session.root, 'federated-token');
    writeFileSync(tokenFile, WORKLOAD.assertions[0]!, { mode: 0o600 });
    const workloadEnv = {
      ...session.env,
      PATH: pathWithCredrelay(),
      NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS!,
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: WORKLOAD.clientId,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_AUTHORITY_HOST: entra.authorityHost,
    };
    const before = [...issued.values()].filter((who) => who.client === WORKLOAD.clientId).length;
    const { pushed, inspected } = await pushAndInspect(acr.host, session.home, workloadEnv, 'team/workload:1');
    expect(pushed.code).toBe(0);
    expect(inspected.code).toBe(0);
    expect([...issued.values()].filter((who) => who.client === WORKLOAD.clientId).length - before).toBe(1);
    writeFileSync(tokenFile, 'a-token-entra-does-not-trust');
    const refused = await runHelper('get', acr.host, { ...workloadEnv, CREDRELAY_NO_DAEMON: '1' });
    expect(refused.stdout).toMatch(
      new RegExp(
        `Microsoft Entra refused the workload identity ${WORKLOAD.clientId} \\(AZURE_FEDERATED_TOKEN_FILE\\) \\(invalid_client: AADSTS700213`,
      ),
    );
  });
});

describe('acr with a managed identity', () => {
  it('takes the token from IDENTITY_ENDPOINT, and skopeo reads the image with it', async () => {
    const [managedBefore, entraBefore] = [managed.tokenRequests(), entra.tokenRequests()];
    const answer = await runHelper('get', acr.host, managedEnv);
    expect(answer.stderr).toBe('');
    expect(JSON.parse(answer.stdout)).toMatchObject({ Username: ACR_USER, Secret: acr.refreshTokens.at(-1) });
    expect(managed.tokenRequests() - managedBefore).toBe(1);
    expect(entra.tokenRequests()).toBe(entraBefore);
    const { inspected } = await pushAndInspect(acr.host, session.home, managedEnv, 'team/managed:1');
    expect(inspected.code).toBe(0);
  });

  it('with no credential at all: which ones were tried, and what to do', async () => {
    const bare = { ...session.env, PATH: pathWithCredrelay(), AZURE_TOKEN_CREDENTIALS: 'prod' };
    const result = await runHelper('get', acr.host, bare);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^Azure credentials for 127\.0\.0\.1:\d+: no Azure credential is available: run `az login`; .* \(tried: EnvironmentCredential is unavailable; .*ManagedIdentityCredential.*\)\n$/,
    );
  });
});

describe('acr in the CLI', () => {
  it('providers lists acr; configure-docker --registries takes an Azure registry', async () => {
    const providers = await run(CLI, ['providers'], { env });
    expect(providers.stdout).toMatch(/^acr: Azure Container Registry/m);
    expect(await configureDockerFor('myregistry.azurecr.io', join(session.root, 'docker-acr'), env)).toEqual({
      code: 0,
      credHelpers: { 'myregistry.azurecr.io': 'credrelay' },
    });
    const route = await run(CLI, ['route', 'myregistry.azurecr.io'], { env });
    const stored = await runHelper(
      'store',
      JSON.stringify({ ServerURL: 'myregistry.azurecr.io', Username: 'admin', Secret: 'not-kept' }),
      env,
    );
    expect(stored.stderr).toMatch(
      /served by the acr provider, which mints its own credentials; nothing was stored \(to keep a password for it, give it a registries entry \{"provider": "keychain"\}\)/,
    );
    const admin = { ServerURL: 'keptadmin.azurecr.io', Username: 'keptadmin', Secret: 'admin-password-1290' };
    expect((await runHelper('store', JSON.stringify(admin), env)).code).toBe(0);
    expect(JSON.parse((await runHelper('get', 'keptadmin.azurecr.io', env)).stdout)).toEqual(admin);
    expect(route.stdout).toMatch(
      /^routed by {2}the acr provider's host matcher \(<registry>\.azurecr\.io, <registry>\.azurecr\.cn, <registry>\.azurecr\.us\)$/m,
    );
  });
});
