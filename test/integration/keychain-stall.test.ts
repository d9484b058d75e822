import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { type MetadataServer, startMetadataServer } from '../support/google-endpoints.js';
import { connectionsTo } from '../support/daemon.js';
import { CLI, daemonSocketFor, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';
import { waitFor } from '../support/wait.js';

/**
 * A keyring that stops answering (its process stopped, as a keyring waiting on a prompt nobody sees) must not stall
 * anything else in the daemon: keychain calls run on one thread of their own, never on the pool that DNS look-ups
 * and crypto share. So with several keychain requests hanging, an ECR route whose endpoint is a host name (a DNS
 * look-up) and a Google route answer while every keychain request still hangs, and those end in a clear error.
 */
let session: Keyring;
let moto: Moto;
let proxy: AwsProxy;
let metadata: MetadataServer;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  [session, moto, metadata] = await Promise.all([startKeyring(), startMoto(), startMetadataServer()]);
  proxy = await startAwsProxy(moto.endpoint);
  proxy.behaviour.expiresInSeconds = 3600;
  const byName = (endpoint: string) => endpoint.replace('127.0.0.1', 'localhost');
  env = {
    ...session.env,
    AWS_ACCESS_KEY_ID: 'AKIDSTALLTEST0000001',
    AWS_SECRET_ACCESS_KEY: 'stall-secret',
    AWS_ENDPOINT_URL_ECR: byName(proxy.endpoint),
    AWS_EC2_METADATA_DISABLED: 'true',
    GCE_METADATA_HOST: byName(metadata.host),
    GOOGLE_APPLICATION_CREDENTIALS: undefined,
    CLOUDSDK_CONFIG: undefined,
  };
});
afterAll(async () => {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop(), metadata.stop()]);
});

describe('a stalled keyring', () => {
  it('does not stall ECR or Google, and the keychain requests end in a clear error', async () => {
    const kept = (index: number) =>
      JSON.stringify({ ServerURL: `kept-${index}.example`, Username: 'u', Secret: `kept-${index}` });
    for (let index = 0; index < 6; index += 1) expect((await runHelper('store', kept(index), env)).code).toBe(0);
    // The daemon loads the AWS SDK and google-auth-library on a provider's first request. Both are loaded here, so
    // what is compared below is the requests themselves (milliseconds), not the seconds a loaded machine spends
    // loading a library: another ECR account, and a Google token then forgotten, so both requests below exchange afresh.
    expect((await runHelper('get', '210987654321.dkr.ecr.us-east-1.amazonaws.com', env)).code).toBe(0);
    expect((await runHelper('get', 'us-docker.pkg.dev', env)).code).toBe(0);
    expect((await run(CLI, ['cache', 'clear'], { env })).code).toBe(0);
    const googleTokensBefore = metadata.tokenCalls();

    session.pause();
    try {
      let settledHanging = 0;
      const hanging = Array.from({ length: 6 }, (_, index) =>
        runHelper('get', `kept-${index}.example`, env).finally(() => {
          settledHanging += 1;
        }),
      );
      const socket = daemonSocketFor(env);
      await waitFor('the keychain requests to be in the daemon', () => connectionsTo(socket) >= hanging.length);

      const [ecr, google] = await Promise.all([
        runHelper('get', '123456789012.dkr.ecr.us-east-1.amazonaws.com', env),
        runHelper('get', 'us-docker.pkg.dev', env),
      ]);
      expect(ecr.stdout).toMatch(/"Username":"AWS","Secret":"123456789012-auth-token"/);
      expect(google.stdout).toMatch(/"Username":"oauth2accesstoken","Secret":"ya29\.metadata-\d+"/);
      expect(metadata.tokenCalls()).toBe(googleTokensBefore + 1); // a fresh exchange, not the cached token
      // Both answered while every keychain request still hung: had the look-up and the token exchange waited on the
      // keychain's thread, they would have answered only after the keychain's deadline ended those requests.
      expect(settledHanging).toBe(0);

      for (const result of await Promise.all(hanging)) {
        expect(result.code).toBe(1);
        expect(result.stdout, JSON.stringify(result)).toMatch(/the OS keychain did not answer/);
      }
    } finally {
      session.resume();
    }
    const back = await runHelper('get', 'kept-0.example', env);
    expect(JSON.parse(back.stdout)).toMatchObject({ Secret: 'kept-0' });
  }, 60_000);
});
