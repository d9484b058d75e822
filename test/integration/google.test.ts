import { generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGarProvider } from '../../plugins/gar/index.js';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { createSecretResolver, createNamedSecrets } from '../../src/core/secrets/named-secrets.js';
import { createOsKeychain } from '../../src/core/store/os-keychain.js';
import { testContext } from '../../src/testing/provider-contract.js';
import {
  type MetadataServer,
  type StsServer,
  startMetadataServer,
  startStsServer,
} from '../support/google-endpoints.js';
import { socketGet } from '../support/daemon-load.js';
import { writeCredrelayConfig } from '../support/config.js';
import { capturingTransport } from '../support/google-transport.js';
import { daemonSocketFor, CLI, HELPER, REPO_ROOT, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { waitFor } from '../support/wait.js';

/**
 * The Google provider end to end against endpoints on loopback: a metadata server (GCE_METADATA_HOST) through the
 * daemon, workload identity federation (an external_account file whose token_url is local), and a service-account
 * key kept in the real keychain, whose JWT is received by a transport and verified with the key's public half.
 */
let metadata: MetadataServer;
let sts: StsServer;
let session: Keyring;
let env: Record<string, string>;

/** Environment in which Application Default Credentials can only find the loopback metadata server. */
const googleEnv = (metadataHost: string) => ({
  GCE_METADATA_HOST: metadataHost,
  GOOGLE_APPLICATION_CREDENTIALS: undefined,
  CLOUDSDK_CONFIG: undefined,
});

beforeAll(async () => {
  [metadata, sts, session] = await Promise.all([startMetadataServer(), startStsServer(), startKeyring()]);
  env = { ...session.env, ...(googleEnv(metadata.host) as unknown as Record<string, string>) };
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: { 'europe-docker.pkg.dev': { provider: 'gar', keySecret: 'NOT_SET_KEY' } },
  });
});
afterAll(async () => {
  await session.stop();
  await Promise.all([metadata.stop(), sts.stop()]);
});

const get = (host: string) => runHelper('get', host, env);
const answer = (stdout: string) => JSON.parse(stdout) as { ServerURL: string; Username: string; Secret: string };

describe('Application Default Credentials from the metadata server, through the daemon', () => {
  const hosts = [
    'us-docker.pkg.dev',
    'gcr.io',
    'eu.gcr.io',
    'https://europe-west4-docker.pkg.dev/v2/',
    'docker.us-central1.rep.pkg.dev',
    'marketplace.gcr.io',
  ];

  it('every Google host form answers oauth2accesstoken and one token, fetched once', async () => {
    for (const host of hosts) {
      const result = await get(host);
      expect(result.stderr).toBe('');
      expect(answer(result.stdout)).toEqual({
        ServerURL: host,
        Username: 'oauth2accesstoken',
        Secret: 'ya29.metadata-1',
      });
    }
    expect(metadata.tokenCalls()).toBe(1);
  });

  it('many concurrent gets across hosts still share that one token', async () => {
    await runHelper('list', '', env); // a running daemon, whatever ran before
    const socketPath = daemonSocketFor(env);
    const secrets = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        socketGet(socketPath, hosts[i % hosts.length]!.replace(/^https:\/\/|\/v2\/$/g, '')),
      ),
    );
    for (const secret of secrets) expect(secret).toBe('ya29.metadata-1');
    expect(metadata.tokenCalls()).toBe(1);
  });

  it('the cache holds one entry for every Google host; clearing any Google host forgets it', async () => {
    await get('gcr.io'); // a cached token, whatever ran before
    const listed = JSON.parse((await run(CLI, ['cache', 'list', '--json'], { env })).stdout) as Array<
      Record<string, string>
    >;
    expect(listed).toEqual([
      expect.objectContaining({ provider: 'gar', registry: '*', identity: 'application default credentials' }),
    ]);
    expect((await run(CLI, ['cache', 'clear', 'gcr.io'], { env })).stdout).toBe('removed 1 cached token(s)\n');
    expect(answer((await get('us-docker.pkg.dev')).stdout).Secret).toBe('ya29.metadata-2');
  });

  it('refreshes before expiry in the background, serving the cached token meanwhile', async () => {
    await run(CLI, ['cache', 'clear'], { env });
    metadata.expiresIn = 40; // past its refresh point at once; usable (less the 30 s margin) for 10 s
    try {
      const first = answer((await get('gcr.io')).stdout).Secret;
      const calls = metadata.tokenCalls();
      expect(answer((await get('gcr.io')).stdout).Secret).toBe(first);
      await waitFor('a background refresh', () => metadata.tokenCalls() === calls + 1);
      await waitFor('the refreshed token', async () => answer((await get('gcr.io')).stdout).Secret !== first);
    } finally {
      metadata.expiresIn = 3600;
    }
  });

  it('a keySecret that is not set is an error naming it, never "not found"', async () => {
    const result = await get('europe-docker.pkg.dev');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      'secret NOT_SET_KEY is not set: run `credrelay secrets set NOT_SET_KEY`, or set NOT_SET_KEY in the environment of the program that asks for the credential\n',
    );
  });
});

/** A workload identity federation file (external_account) whose subject token is `subject`, exchanged at the local STS. */
function federationFile(name: string, subject: string): string {
  const subjectToken = join(session.root, `${name}-subject.jwt`);
  writeFileSync(subjectToken, subject);
  const federation = join(session.root, `${name}-federation.json`);
  writeFileSync(
    federation,
    JSON.stringify({
      type: 'external_account',
      audience: `//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/providers/${name}`,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: sts.tokenUrl,
      credential_source: { file: subjectToken },
    }),
  );
  return federation;
}

describe('other credential sources', () => {
  it('workload identity federation: an external_account file exchanges its subject token at its token_url', async () => {
    const federation = federationFile('local', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaS1qb2IifQ.');
    const result = await runHelper('get', 'us-docker.pkg.dev', {
      ...env,
      CREDRELAY_NO_DAEMON: '1',
      GOOGLE_APPLICATION_CREDENTIALS: federation,
    });
    expect(answer(result.stdout)).toMatchObject({ Username: 'oauth2accesstoken', Secret: 'ya29.federated-1' });
    expect(sts.exchanges).toHaveLength(1);
    expect(sts.exchanges[0]!.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(sts.exchanges[0]!.get('subject_token')).toBe('eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaS1qb2IifQ.');
    expect(sts.exchanges[0]!.get('scope')).toBe('https://www.googleapis.com/auth/cloud-platform');
  });

  it('a caller naming its credentials in lowercase (google_application_credentials) is itself through the daemon', async () => {
    const federation = federationFile('lower', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJsb3dlcmNhc2UifQ.');
    // The user's default identity (the metadata server) is served by a daemon first...
    expect(answer((await get('us-docker.pkg.dev')).stdout).Secret).toMatch(/^ya29\.metadata-/);
    // ...and a caller whose key file google-auth-library finds under the lowercase name gets its own, as in-process.
    const before = sts.exchanges.length;
    const lowercase = { ...env, google_application_credentials: federation };
    const through = await runHelper('get', 'us-docker.pkg.dev', lowercase);
    expect(answer(through.stdout).Secret).toMatch(/^ya29\.federated-/);
    expect(sts.exchanges.slice(before).map((form) => form.get('subject_token'))).toEqual([
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJsb3dlcmNhc2UifQ.',
    ]);
    const inProcess = await runHelper('get', 'us-docker.pkg.dev', { ...lowercase, CREDRELAY_NO_DAEMON: '1' });
    expect(answer(inProcess.stdout).Secret).toMatch(/^ya29\.federated-/);
  });

  it('no Google credentials anywhere: the error lists the sources tried and the fix', async () => {
    const result = await runHelper('get', 'gcr.io', {
      ...session.env,
      HOME: join(session.root, 'empty-home'),
      CREDRELAY_NO_DAEMON: '1',
      GOOGLE_APPLICATION_CREDENTIALS: undefined,
      GCE_METADATA_HOST: undefined,
      // Do not look for a metadata server at all: only loopback is a fair target here.
      METADATA_SERVER_DETECTION: 'none',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^Google credentials for gcr\.io: no Google credentials found \(tried GOOGLE_APPLICATION_CREDENTIALS, the gcloud ADC file .*metadata server\): run `gcloud auth application-default login`/,
    );
  });

  it('keySecret: the key stays in the keychain, and a JWT signed with it is exchanged for a one-hour token', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = {
      type: 'service_account',
      project_id: 'credrelay-test',
      private_key_id: 'k1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'puller@credrelay-test.iam.gserviceaccount.com',
    };
    // Stored the way a user would: base64, through the CLI, read from stdin.
    const stored = await run(CLI, ['secrets', 'set', 'GOOGLE_AR_KEY'], {
      env,
      input: Buffer.from(JSON.stringify(key)).toString('base64'),
    });
    expect(stored).toMatchObject({ code: 0, stdout: 'stored secret GOOGLE_AR_KEY in the OS keychain\n' });

    const { transporter, requests } = capturingTransport(() => ({
      access_token: 'ya29.from-key',
      expires_in: 3599,
      token_type: 'Bearer',
    }));
    Object.assign(process.env, session.env); // this process reads the session's keychain
    const provider = createGarProvider({ tokenOptions: { transporter } });
    const context = {
      ...testContext({ keySecret: 'GOOGLE_AR_KEY' }),
      resolveSecret: createSecretResolver(createNamedSecrets(createOsKeychain())),
    };
    const credential = await provider.get(parseRegistry('us-docker.pkg.dev'), context);
    expect(credential).toMatchObject({ username: 'oauth2accesstoken', secret: 'ya29.from-key' });
    expect(credential!.expiresAt!.getTime() - Date.now()).toBeGreaterThan(3500_000);
    const [header, payload, signature] = new URLSearchParams(requests[0]!.body).get('assertion')!.split('.') as [
      string,
      string,
      string,
    ];
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({ iss: key.client_email });
    expect(
      verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url')),
    ).toBe(true);
  });
});

describe('kubelet image credential provider', () => {
  const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'kubelet', name), 'utf8');

  it.each([
    ['gar-v1-service-account.json', 'credentialprovider.kubelet.k8s.io/v1', 'us-docker.pkg.dev'],
    ['gcr-v1beta1.json', 'credentialprovider.kubelet.k8s.io/v1beta1', 'gcr.io'],
  ])(
    '%s: the Google token under the image registry, the request version echoed',
    async (name, apiVersion, registry) => {
      const result = await run(HELPER, ['kubelet'], { input: fixture(name), env });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const response = JSON.parse(result.stdout) as {
        apiVersion: string;
        cacheDuration: string;
        auth: Record<string, { username: string; password: string }>;
      };
      expect(response.apiVersion).toBe(apiVersion);
      expect(Object.keys(response.auth)).toEqual([registry]);
      expect(response.auth[registry]!.username).toBe('oauth2accesstoken');
      expect(response.auth[registry]!.password).toMatch(/^ya29\.metadata-\d+$/);
      expect(response.cacheDuration).toMatch(/^(2\dm\d{1,2}s|30m0s)$/);
    },
  );
});
