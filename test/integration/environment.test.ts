import { mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsProxy, startAwsProxy } from '../support/aws-proxy.js';
import { writeCredrelayConfig } from '../support/config.js';
import { daemonPids } from '../support/daemon.js';
import { isAlive } from '../../src/core/util/process.js';
import { daemonPidFor, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { type Moto, startMoto } from '../support/moto.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';

/**
 * Through the daemon, every caller is answered as it would be in-process in its own environment: two CI jobs with
 * different secrets, AWS identities or D-Bus sessions never see each other's, whichever started a daemon first.
 */
let session: Keyring;
let registry: Registry;
let moto: Moto;
let proxy: AwsProxy;
let base: Record<string, string | undefined>;

// CREDRELAY_NATIVE is one of the variables this suite shows to share a daemon: unset here, whatever vitest.config.ts sets.
delete process.env.CREDRELAY_NATIVE;

beforeAll(async () => {
  [session, registry, moto] = await Promise.all([
    startKeyring(),
    startRegistry('ci-user', 'the-right-token-3377'),
    startMoto(),
  ]);
  proxy = await startAwsProxy(moto.endpoint);
  proxy.behaviour.expiresInSeconds = 3600;
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: { [registry.host]: { username: 'ci-user', password: '$REGISTRY_TOKEN' } },
  });
  base = {
    ...session.env,
    AWS_ENDPOINT_URL_ECR: proxy.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
  };
});
afterAll(async () => {
  await session.stop();
  await Promise.all([registry.stop(), proxy.stop(), moto.stop()]);
});

describe('one daemon per environment', () => {
  it('two jobs with different $REGISTRY_TOKEN each get their own; a job without it gets the not-set error', async () => {
    const jobA = { ...base, REGISTRY_TOKEN: registry.password };
    const jobB = { ...base, REGISTRY_TOKEN: 'a-wrong-token' };
    const jobC = { ...base, REGISTRY_TOKEN: undefined };
    // A starts a daemon first; B and C come after, concurrently, while it runs.
    expect(JSON.parse((await runHelper('get', registry.host, jobA)).stdout)).toMatchObject({
      Secret: registry.password,
    });
    const [a, b, c] = await Promise.all([
      runHelper('get', registry.host, jobA),
      runHelper('get', registry.host, jobB),
      runHelper('get', registry.host, jobC),
    ]);
    expect(JSON.parse(a.stdout)).toMatchObject({ Username: 'ci-user', Secret: registry.password });
    expect(JSON.parse(b.stdout)).toMatchObject({ Username: 'ci-user', Secret: 'a-wrong-token' });
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/^secret REGISTRY_TOKEN is not set/);
    expect(daemonPids(session.runtimeDir).length).toBeGreaterThanOrEqual(3);

    // And as the registry sees it, through skopeo: one job authenticates, the other is refused.
    const home = join(session.root, 'skopeo-home');
    mkdirSync(home, { recursive: true });
    const right = await pushAndInspect(registry.host, home, jobA as Record<string, string>, 'seed:a');
    expect(right.pushed.code, right.pushed.stderr).toBe(0);
    const wrong = await pushAndInspect(registry.host, home, jobB as Record<string, string>, 'seed:b');
    expect(wrong.pushed.code).not.toBe(0);
    expect(wrong.pushed.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it('two AWS identities get tokens signed as themselves, and never share a cached one', async () => {
    const host = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
    const alice = { ...base, AWS_ACCESS_KEY_ID: 'AKIDALICE00000000001', AWS_SECRET_ACCESS_KEY: 'alice-secret' };
    const bob = { ...base, AWS_ACCESS_KEY_ID: 'AKIDBOB0000000000002', AWS_SECRET_ACCESS_KEY: 'bob-secret' };
    const before = proxy.tokenCalls().length;
    expect((await runHelper('get', host, alice)).code).toBe(0);
    expect((await runHelper('get', host, bob)).code).toBe(0);
    expect((await runHelper('get', host, alice)).code).toBe(0); // cached in alice's daemon
    const calls = proxy.tokenCalls().slice(before);
    expect(calls.map((call) => call.accessKeyId)).toEqual(['AKIDALICE00000000001', 'AKIDBOB0000000000002']);
  });

  it('a caller with another D-Bus session reaches its own keyring', async () => {
    const other = await startKeyring();
    try {
      const stored = (secret: string) => JSON.stringify({ ServerURL: 'mine.example', Username: 'u', Secret: secret });
      const mine = { ...base };
      const theirs = { ...base, DBUS_SESSION_BUS_ADDRESS: other.env.DBUS_SESSION_BUS_ADDRESS };
      expect((await runHelper('store', stored('in-my-keyring'), mine)).code).toBe(0);
      expect((await runHelper('store', stored('in-their-keyring'), theirs)).code).toBe(0);
      expect(JSON.parse((await runHelper('get', 'mine.example', mine)).stdout).Secret).toBe('in-my-keyring');
      expect(JSON.parse((await runHelper('get', 'mine.example', theirs)).stdout).Secret).toBe('in-their-keyring');
    } finally {
      await other.stop();
    }
  });
});

/** What the GitHub Actions runner sets afresh for every step of a job (runner 2.3xx), beside what stays for the job. */
const actionsStep = (step: number): Record<string, string> => ({
  GITHUB_ACTION: `__run_${step}`,
  GITHUB_ACTION_PATH: `/home/runner/work/_actions/step-${step}`,
  GITHUB_ACTION_REPOSITORY: step % 2 ? 'actions/checkout' : '',
  GITHUB_ACTION_REF: step % 2 ? 'v4' : '',
  GITHUB_OUTPUT: `/home/runner/work/_temp/_runner_file_commands/set_output_${step}`,
  GITHUB_STATE: `/home/runner/work/_temp/_runner_file_commands/save_state_${step}`,
  GITHUB_ENV: `/home/runner/work/_temp/_runner_file_commands/set_env_${step}`,
  GITHUB_PATH: `/home/runner/work/_temp/_runner_file_commands/add_path_${step}`,
  GITHUB_STEP_SUMMARY: `/home/runner/work/_temp/_runner_file_commands/step_summary_${step}`,
  INPUT_FETCH_DEPTH: String(step),
  RUNNER_TEMP: '/home/runner/work/_temp',
});
const actionsJob = {
  CI: 'true',
  GITHUB_ACTIONS: 'true',
  GITHUB_REPOSITORY: 'credrelay/example',
  GITHUB_RUN_ID: '9123456789',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_JOB: 'build',
  GITHUB_WORKFLOW: 'ci',
  GITHUB_SHA: 'ffac537e6cbbf934b08745a378932722df287a53',
  RUNNER_OS: 'Linux',
};

describe("the caller's Node options", () => {
  it('a daemon started by a caller with an inspector in NODE_OPTIONS has none, and keeps only the safe options', async () => {
    const caller = {
      ...base,
      REGISTRY_TOKEN: registry.password,
      NODE_OPTIONS: '--inspect=127.0.0.1:0 --use-openssl-ca',
    };
    const result = await runHelper('get', registry.host, caller);
    expect(JSON.parse(result.stdout)).toMatchObject({ Secret: registry.password });
    const pid = daemonPidFor(caller);
    expect(pid, result.stderr).toBeDefined();
    const daemonEnv = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(daemonEnv).toContain('NODE_OPTIONS=--use-openssl-ca');
    expect(daemonEnv.join('\n')).not.toContain('--inspect');
    // No debugger listens: the daemon has no TCP socket at all.
    const inodes = new Set(
      readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        try {
          return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''];
        } catch {
          return [];
        }
      }),
    );
    const tcp = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
      readFileSync(table, 'utf8')
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/)[9]),
    );
    expect(tcp.filter((inode) => inode !== undefined && inodes.has(inode))).toEqual([]);
  });
});

describe('the daemons of one user are few and bounded', () => {
  /** An environment of its own runtime directory, so that its daemons can be counted. */
  const fresh = (name: string) => {
    const runtimeDir = join(session.root, `rt-${name}`);
    return { runtimeDir, env: { ...base, REGISTRY_TOKEN: registry.password, CREDRELAY_RUNTIME_DIR: runtimeDir } };
  };
  const liveDaemons = (runtimeDir: string) => daemonPids(runtimeDir).filter(isAlive);

  it('a 30-step GitHub Actions job runs one daemon, answering every step as in-process', async () => {
    const { runtimeDir, env } = fresh('actions');
    for (let step = 0; step < 30; step += 1) {
      const stepEnv = { ...env, ...actionsJob, ...actionsStep(step) };
      const [through, inProcess] = await Promise.all([
        runHelper('get', registry.host, stepEnv),
        runHelper('get', registry.host, { ...stepEnv, CREDRELAY_NO_DAEMON: '1' }),
      ]);
      expect(through.stderr).toBe('');
      expect(through.stdout).toBe(inProcess.stdout);
    }
    expect(liveDaemons(runtimeDir)).toHaveLength(1);
  });

  it('docker, buildah and podman (TMPDIR=/var/tmp) and the Node client share one daemon', async () => {
    const { runtimeDir, env } = fresh('engines');
    for (const caller of [{}, { TMPDIR: '/var/tmp' }, { TMPDIR: '/tmp/podman-run' }, { CREDRELAY_NATIVE: '0' }]) {
      const result = await runHelper('get', registry.host, { ...env, ...caller });
      expect(JSON.parse(result.stdout)).toMatchObject({ Secret: registry.password });
    }
    expect(liveDaemons(runtimeDir)).toHaveLength(1);
  });
});
