import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, NODE_CLIENT, daemonSocketFor, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { writeCredrelayConfig } from '../support/config.js';

/** Error texts quote no secret material: canaries in a config key, a credentials file, kubelet fields, the wire. */
const CANARY = 'Pa55w0rd-CANARY-7731';
let session: Keyring;
let configDir: string;

beforeAll(async () => {
  session = await startKeyring();
  configDir = join(session.env.XDG_CONFIG_HOME!, 'credrelay');
  mkdirSync(configDir, { recursive: true });
});
afterAll(async () => {
  await session.stop();
});

const logText = () => readFileSync(join(session.env.XDG_STATE_HOME!, 'credrelay', 'daemon.log'), 'utf8');

describe('error texts never quote secrets', () => {
  it('a registries key with a password in it: not in get, doctor --json or the log', async () => {
    writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {
      registries: { [`https://alice:${CANARY}@registry.example`]: { provider: 'keychain' } },
    });
    const env = { ...session.env, CREDRELAY_LOG_LEVEL: 'debug' };
    const get = await runHelper('get', 'registry.example', env);
    expect(get.code).toBe(1);
    expect(get.stdout).toMatch(/^invalid configuration in .*"https:\/\/\*\*\*@registry\.example" is not a registry/);
    const doctor = await run(CLI, ['doctor', '--json'], { env });
    for (const text of [get.stdout, get.stderr, doctor.stdout, doctor.stderr, logText()])
      expect(text).not.toContain(CANARY);
    writeCredrelayConfig(session.env.XDG_CONFIG_HOME!, {});
  });

  it('a GOOGLE_APPLICATION_CREDENTIALS file that is not JSON is not quoted', async () => {
    const file = join(session.root, 'not-json-key');
    writeFileSync(file, `${CANARY} is what this file holds\n`, { mode: 0o600 });
    const env = { ...session.env, GOOGLE_APPLICATION_CREDENTIALS: file, CREDRELAY_NO_DAEMON: '1' };
    const get = await runHelper('get', 'us-docker.pkg.dev', env);
    expect(get.code).toBe(1);
    expect(get.stdout).toMatch(/^Google credentials for us-docker\.pkg\.dev: /);
    expect(get.stdout + get.stderr).not.toContain(CANARY);
    expect(get.stdout + get.stderr).not.toContain('what this file holds');
  });

  it('kubelet apiVersion and kind are shown short, or not at all', async () => {
    const request = (fields: Record<string, unknown>) =>
      run(process.execPath, [NODE_CLIENT, 'kubelet'], {
        env: { ...session.env, CREDRELAY_NO_DAEMON: '1' },
        input: JSON.stringify({ image: 'registry.example/app:1', ...fields }),
      });
    const long = await request({ apiVersion: `${'v'.repeat(200)}${CANARY}`, kind: 'CredentialProviderRequest' });
    expect(long.stderr).toMatch(/unsupported apiVersion a value of \d+ characters \(not shown\)/);
    const kind = await request({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: `x\n${CANARY}` });
    expect(kind.stderr).toMatch(/kind must be CredentialProviderRequest, not a value of/);
    for (const result of [long, kind]) expect(result.stdout + result.stderr).not.toContain(CANARY);
  });

  it("the daemon's version-mismatch reply does not echo a long client version", async () => {
    expect((await runHelper('list', '', session.env)).code).toBe(0);
    const reply = await new Promise<string>((resolve) => {
      const socket = createConnection(daemonSocketFor(session.env));
      let text = '';
      socket.on('connect', () => socket.write(`${JSON.stringify({ v: `9.9.9-${CANARY}`, op: 'status' })}\n`));
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
    });
    expect(reply).toMatch(/VERSION_MISMATCH/);
    expect(reply).not.toContain(CANARY);
  });
});
