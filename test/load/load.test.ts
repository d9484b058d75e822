import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { daemonPid } from '../support/daemon.js';
import { openHandles, rssMiB, socketGet } from '../support/daemon-load.js';
import { daemonSocketFor, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';

/** 1,000 concurrent gets over 10 ECR registries, through one daemon, against moto (with a realistic 150 ms exchange). */
let moto: Moto;
let proxy: AwsProxy;
let session: Keyring;
let env: Record<string, string>;

beforeAll(async () => {
  [moto, session] = await Promise.all([startMoto(), startKeyring()]);
  proxy = await startAwsProxy(moto.endpoint);
  Object.assign(proxy.behaviour, { expiresInSeconds: 12 * 3600, delayMs: 150 });
  env = {
    ...session.env,
    AWS_ACCESS_KEY_ID: 'AKIDLOADTEST00000001',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
  };
});
afterAll(async () => {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop()]);
});

describe('load', () => {
  it('1,000 concurrent gets over 10 registries: no failure, exactly 10 upstream calls, modest memory', async () => {
    expect((await runHelper('list', '', env)).code).toBe(0); // a daemon, started by a helper as in real use
    const pid = daemonPid(session.runtimeDir)!;
    const accounts = Array.from({ length: 10 }, (_, i) => String(100000000000 + i));
    const socketPath = daemonSocketFor(env);
    const started = Date.now();
    const secrets = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        socketGet(socketPath, `${accounts[i % 10]}.dkr.ecr.us-east-1.amazonaws.com`),
      ),
    );
    const elapsed = Date.now() - started;
    secrets.forEach((secret, i) => expect(secret).toBe(`${accounts[i % 10]}-auth-token`));
    expect(proxy.tokenCalls()).toHaveLength(10);
    for (const account of accounts) expect(proxy.tokenCalls(account)).toHaveLength(1);
    const rss = rssMiB(pid);
    console.log(
      `load: 1000 gets over 10 registries in ${elapsed} ms; 10 upstream calls; daemon RSS ${rss.toFixed(1)} MiB, ${openHandles(pid)} open handles`,
    );
    expect(rss).toBeLessThan(100);
  });
});
