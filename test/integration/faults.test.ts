import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { daemonPid, isAlive } from '../support/daemon.js';
import { type MetadataServer, startMetadataServer } from '../support/google-endpoints.js';
import { HELPER, REPO_ROOT, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';
import { waitFor } from '../support/wait.js';

/**
 * Faults from every side: upstream services that fail, throttle, hang or drop the connection; a keychain that goes
 * away and comes back; a log on a full disk. credrelay retries what is worth retrying, within a deadline, keeps
 * serving a still-valid token while refreshes fail, then reports a clear error; it never hangs and never says
 * "not found" for a failure.
 */
const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
let moto: Moto;
let proxy: AwsProxy;
let metadata: MetadataServer;
let session: Keyring;
let env: Record<string, string>;

beforeAll(async () => {
  [moto, session, metadata] = await Promise.all([startMoto(), startKeyring(), startMetadataServer()]);
  proxy = await startAwsProxy(moto.endpoint);
  env = {
    ...session.env,
    AWS_ACCESS_KEY_ID: 'AKIDFAULTS0000000001',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    GCE_METADATA_HOST: metadata.host,
  };
});
afterAll(async () => {
  await session.stop();
  await Promise.all([proxy.stop(), moto.stop(), metadata.stop()]);
});
beforeEach(() => {
  Object.assign(proxy.behaviour, {
    failEcrWith: undefined,
    dropEcr: false,
    expiresInSeconds: 12 * 3600,
    uniqueTokens: false,
  });
  metadata.failTokensWith = undefined;
});

/** One in-process get, timed, with the ECR calls it caused. */
async function timedGet(host: string, extra: Record<string, string> = {}) {
  const before = proxy.tokenCalls().length;
  const started = Date.now();
  const result = await run(HELPER, ['get'], {
    input: host,
    env: { ...env, CREDRELAY_NO_DAEMON: '1', ...extra },
    timeoutMs: 40_000,
  });
  return { result, ms: Date.now() - started, calls: proxy.tokenCalls().slice(before) };
}

describe('ECR upstream faults: bounded retries with backoff, then a clear error', () => {
  it.each([
    [
      'HTTP 500',
      { status: 500, code: 'InternalServerError' },
      /the AWS request failed \(InternalServerError, HTTP 500\)/,
    ],
    [
      'throttling (429)',
      { status: 429, code: 'ThrottlingException' },
      /AWS is throttling token requests \(ThrottlingException\)/,
    ],
    [
      'throttling (400 ThrottlingException)',
      { status: 400, code: 'ThrottlingException' },
      /AWS is throttling token requests/,
    ],
  ])('%s: three attempts, spaced out, then the error', async (_name, failure, message) => {
    proxy.behaviour.failEcrWith = failure;
    const { result, ms, calls } = await timedGet(ECR_HOST);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(message);
    expect(result.stdout).not.toMatch(/not found/);
    expect(calls).toHaveLength(3);
    expect(calls[2]!.at).toBeGreaterThan(calls[0]!.at); // backoff between attempts
    expect(ms).toBeLessThan(20_000);
  });

  it('a dropped connection: retried, then "cannot reach"', async () => {
    proxy.behaviour.dropEcr = true;
    const { result, calls } = await timedGet(ECR_HOST);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/cannot reach the ECR endpoint for us-east-1/);
    expect(calls.length).toBeGreaterThanOrEqual(2);
  });

  it('through the daemon: a still-valid cached token is served while refreshes fail; once it expires, the error', async () => {
    const host = '210987654321.dkr.ecr.us-west-2.amazonaws.com';
    proxy.behaviour.expiresInSeconds = 34; // refresh due at once; usable (less the 30 s margin) for 4 s
    proxy.behaviour.uniqueTokens = true;
    const requestedAt = Date.now();
    const first = JSON.parse((await runHelper('get', host, env)).stdout).Secret as string;
    proxy.behaviour.failEcrWith = { status: 500, code: 'InternalServerError' };
    expect(JSON.parse((await runHelper('get', host, env)).stdout).Secret).toBe(first);
    const log = join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log');
    await waitFor(
      'the failed refresh to be logged',
      () => readFileSync(log, 'utf8').includes('background refresh failed'),
      15_000,
    );
    // Served from the cache until it expires (4 s after it was minted), then the refresh's error.
    let expired = await runHelper('get', host, env);
    while (expired.code === 0) {
      expect(JSON.parse(expired.stdout).Secret).toBe(first);
      expect(Date.now() - requestedAt).toBeLessThan(20_000);
      expired = await runHelper('get', host, env);
    }
    // Not before it expired (allowing for the expiry's whole seconds on the wire).
    expect(Date.now() - requestedAt).toBeGreaterThanOrEqual(3_000);
    expect(expired.stdout).toMatch(/the AWS request failed \(InternalServerError, HTTP 500\)/);
  }, 40_000);
});

describe('tokens outlive the callers that keep them', () => {
  it('a cached token nearer its end than 15 minutes is replaced before it is handed out', async () => {
    const host = '345678901234.dkr.ecr.eu-central-1.amazonaws.com';
    proxy.behaviour.uniqueTokens = true;
    proxy.behaviour.expiresInSeconds = 15 * 60 + 4; // just above the least handed out, for 4 seconds
    const first = JSON.parse((await runHelper('get', host, env)).stdout).Secret as string;
    const fetchedAt = Date.now();
    proxy.behaviour.expiresInSeconds = 12 * 3600; // the issuer can mint a longer one
    expect(JSON.parse((await runHelper('get', host, env)).stdout).Secret).toBe(first); // still 15 minutes ahead
    await waitFor('the first token to fall below 15 minutes of life', () => Date.now() > fetchedAt + 5_000, 10_000);
    const second = JSON.parse((await runHelper('get', host, env)).stdout).Secret as string;
    expect(second).not.toBe(first);
    const route = await run(join(REPO_ROOT, 'bin', 'credrelay'), ['route', host], { env });
    expect(route.stdout).toMatch(/^cache +cached until /m);
    expect(route.stdout).not.toMatch(/issuer gives no longer-lived token/);
  });

  it('an issuer that gives no more than 10 minutes: served, and route says so', async () => {
    const host = '456789012345.dkr.ecr.ap-south-1.amazonaws.com';
    proxy.behaviour.uniqueTokens = true;
    proxy.behaviour.expiresInSeconds = 600;
    const first = await runHelper('get', host, env);
    expect(first.code, first.stdout).toBe(0);
    expect(JSON.parse((await runHelper('get', host, env)).stdout).Secret).toBe(JSON.parse(first.stdout).Secret);
    const route = await run(join(REPO_ROOT, 'bin', 'credrelay'), ['route', host], { env });
    expect(route.stdout).toMatch(/its issuer gives no longer-lived token \(less than 15 minutes when fetched\)/);
  });
});

describe('Google upstream faults', () => {
  it('a metadata server that fails: a clear error, not "not found"', async () => {
    metadata.failTokensWith = 503;
    const started = Date.now();
    const result = await runHelper('get', 'gcr.io', { ...env, CREDRELAY_NO_DAEMON: '1' });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Google credentials for gcr\.io: /);
    expect(result.stdout).not.toMatch(/not found/);
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 40_000);
});

describe('keychain faults', () => {
  it('the Secret Service going away mid-run is a clear error, and credrelay recovers when it comes back', async () => {
    const stored = JSON.stringify({ ServerURL: 'kept.example', Username: 'u', Secret: 'kept-secret' });
    expect((await runHelper('store', stored, env)).code).toBe(0);
    const pid = daemonPid(session.runtimeDir)!;
    await session.stopSecretService();
    const started = Date.now();
    const gone = await runHelper('get', 'kept.example', env);
    expect(gone.code).toBe(1);
    expect(gone.stdout).toMatch(/^no Secret Service on D-Bus: start gnome-keyring/);
    expect(Date.now() - started).toBeLessThan(8_000);
    await session.startSecretService();
    const back = await runHelper('get', 'kept.example', env);
    expect(JSON.parse(back.stdout)).toMatchObject({ Secret: 'kept-secret' });
    // Each keychain call connects afresh, so the same daemon reaches the keyring again: no restart, no lost cache.
    expect(daemonPid(session.runtimeDir)).toBe(pid);
    expect(isAlive(pid)).toBe(true);
  });
});

describe('the session bus itself dying', () => {
  it('is a clear error while it is gone, and credrelay recovers when a new bus comes up at the same address', async () => {
    const bus = await startKeyring();
    try {
      const stored = JSON.stringify({ ServerURL: 'bus.example', Username: 'u', Secret: 'bus-secret' });
      expect((await runHelper('store', stored, bus.env)).code).toBe(0);
      const pid = daemonPid(bus.runtimeDir)!;
      const restarting = bus.restartBus();
      const during = await runHelper('get', 'bus.example', bus.env);
      await restarting;
      // While the bus is down or just back: either a clear keychain error, or already the answer; never "not found".
      expect(during.stdout).not.toBe('credentials not found in native keychain\n');
      await waitFor(
        'a daemon that reaches the new bus',
        async () => {
          const result = await runHelper('get', 'bus.example', bus.env);
          return result.code === 0 && JSON.parse(result.stdout).Secret === 'bus-secret';
        },
        20_000,
      );
      expect(daemonPid(bus.runtimeDir)).toBe(pid); // the same daemon, reconnected
    } finally {
      await bus.stop();
    }
  }, 60_000);
});

describe('daemon faults', () => {
  it('a log on a full disk loses lines, not the daemon', async () => {
    const full = await startKeyring();
    try {
      const stateDir = join(full.env.XDG_STATE_HOME!, 'credrelay');
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      symlinkSync('/dev/full', join(stateDir, 'daemon.log')); // every write fails with ENOSPC
      const fullEnv = { ...full.env, CREDRELAY_LOG_LEVEL: 'debug' };
      expect(
        (await runHelper('store', JSON.stringify({ ServerURL: 'disk.example', Username: 'u', Secret: 's' }), fullEnv))
          .code,
      ).toBe(0);
      for (let i = 0; i < 5; i += 1)
        expect(JSON.parse((await runHelper('get', 'disk.example', fullEnv)).stdout).Secret).toBe('s');
      const pid = daemonPid(full.runtimeDir)!;
      expect(isAlive(pid)).toBe(true);
      expect((await runHelper('get', 'disk.example', fullEnv)).stderr).toBe(''); // served by that daemon, no fallback
    } finally {
      await full.stop();
    }
  });
});
