import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, HELPER, type RunResult, run, runHelper } from '../support/helper.js';
import { writeCredrelayConfig } from '../support/config.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { type Registry, startRegistry } from '../support/registry.js';

/**
 * Secrets never leak: with the daemon logging at debug level, every command and protocol action is run with canary
 * secrets; afterwards no file under the session (HOME, the XDG config, state, cache and runtime directories) nor the
 * temporary directory holds a canary, no process argument ever held one while the daemon worked, and no output held
 * one except the protocol answer whose job is to carry it.
 */
// Made at run time, so that no source file (nor a cache of one) can contain them.
const canary = (kind: string) => `canary-${kind}-${randomBytes(8).toString('hex')}`;
const STORED = canary('stored');
const NAMED = canary('named');
const LOGIN = canary('login');
const BROKEN = canary('broken');
const CANARIES = [STORED, NAMED, LOGIN, BROKEN];

let session: Keyring;
let registry: Registry;
let env: Record<string, string>;
const outputs: Array<{ what: string; result: RunResult; mayCarry?: string }> = [];

const record = async (what: string, result: Promise<RunResult>, mayCarry?: string) => {
  const settled = await result;
  outputs.push({ what, result: settled, ...(mayCarry ? { mayCarry } : {}) });
  return settled;
};
const cli = (args: string[], input?: string, mayCarry?: string) =>
  record(`credrelay ${args.join(' ')}`, run(CLI, args, { env, ...(input === undefined ? {} : { input }) }), mayCarry);
const helper = (action: string, input: string, mayCarry?: string) =>
  record(`helper ${action}`, runHelper(action, input, env), mayCarry);

/** Every process's command line, read from /proc. */
const commandLines = (): string[] =>
  readdirSync('/proc').flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      return [readFileSync(`/proc/${entry}/cmdline`, 'utf8')];
    } catch {
      return [];
    }
  });

beforeAll(async () => {
  [session, registry] = await Promise.all([startKeyring(), startRegistry('leaky', LOGIN)]);
  env = { ...session.env, CREDRELAY_LOG_LEVEL: 'debug', DOCKER_CONFIG: join(session.home, '.docker') };
  writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
    registries: { 'named.example': { username: 'robot', password: '$NAMED_TOKEN' } },
  });
});
afterAll(async () => {
  await session.stop();
  await registry.stop();
});

/** Runs `step` once, however many tests ask for it: each test can run alone and still see everything run. */
const once = <T>(step: () => Promise<T>): (() => Promise<T>) => {
  let running: Promise<T> | undefined;
  return () => (running ??= step());
};

const protocolActions = once(async () => {
  await helper('store', JSON.stringify({ ServerURL: 'stored.example', Username: 'u', Secret: STORED }));
  const got = await helper('get', 'stored.example', STORED);
  await helper('list', '');
  await helper('store', `{"ServerURL":"x.example","Username":"u","Secret":"${BROKEN}" !!`);
  await helper('get', `https://user:${BROKEN}@stored.example`);
  await helper('erase', 'nothing.example');
  return { got };
});

const secretsAndKubelet = once(async () => {
  await cli(['secrets', 'set', 'NAMED_TOKEN'], NAMED);
  await cli(['secrets', 'list']);
  const named = await helper('get', 'named.example', NAMED);
  const kubelet = await record(
    'helper kubelet',
    run(HELPER, ['kubelet'], {
      env,
      input: JSON.stringify({
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderRequest',
        image: 'named.example/app:1',
      }),
    }),
    NAMED,
  );
  return { named, kubelet };
});

const loginAndManagement = once(async () => {
  const login = await cli(['login', registry.host, '-u', 'leaky', '--password-stdin'], LOGIN);
  await cli(['login', registry.host, '-u', 'leaky', '--password-stdin'], BROKEN);
  await cli(['configure-docker']);
  for (const command of [
    ['route', 'named.example'],
    ['route', 'stored.example', '--json'],
    ['providers'],
    ['doctor'],
    ['doctor', '--json'],
    ['daemon', 'status', '--json'],
    ['cache', 'list', '--json'],
    ['cache', 'clear'],
  ]) {
    await cli(command);
  }
  await cli(['logout', registry.host]);
  return { login };
});

const everything = async () => {
  await protocolActions();
  await secretsAndKubelet();
  await loginAndManagement();
};

describe('with every command and action run on canary secrets', () => {
  it('the protocol actions, through the daemon at debug level', async () => {
    expect((await protocolActions()).got.stdout).toContain(STORED);
  });

  it('secrets, static routes and kubelet', async () => {
    const { named, kubelet } = await secretsAndKubelet();
    expect(named.stdout).toContain(NAMED);
    expect(kubelet.stdout).toContain(NAMED);
  });

  it('login against a real registry, and the management commands', async () => {
    expect((await loginAndManagement()).login.code).toBe(0);
  });

  it('no process argument holds a canary while the daemon works', async () => {
    await secretsAndKubelet();
    const seen: string[] = [];
    const burst = Promise.all(Array.from({ length: 10 }, () => runHelper('get', 'named.example', env)));
    const sampler = setInterval(() => seen.push(...commandLines()), 5);
    await burst;
    clearInterval(sampler);
    expect(seen.length).toBeGreaterThan(0);
    for (const value of CANARIES) expect(seen.filter((line) => line.includes(value))).toEqual([]);
  });

  it('no output carries a canary except the protocol answer meant to carry it', async () => {
    await everything();
    expect(outputs.length).toBeGreaterThan(20);
    for (const { what, result, mayCarry } of outputs) {
      for (const value of CANARIES) {
        if (value !== mayCarry)
          expect(`${result.stdout}${result.stderr}`, `${what} printed ${value}`).not.toContain(value);
      }
    }
  });

  it('no file under the session or the temporary directory holds a canary; the log exists, at debug level', async () => {
    await everything();
    const log = join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log');
    expect(statSync(log).size).toBeGreaterThan(0);
    expect(readFileSync(log, 'utf8')).toMatch(/"level":"debug","msg":"request served"/);
    for (const value of CANARIES) {
      expect(filesContaining(session.root, value), value).toEqual([]);
      expect(filesContaining(tmpdir(), value), value).toEqual([]);
    }
  });
});
