import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHome, makeClientHome } from '../support/client-home.js';
import { run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { pushAndInspect } from '../support/skopeo.js';

/** The docker CLI (client only: no engine runs here) against a real htpasswd registry, with credrelay as its store. */
let keyring: Keyring;
let registry: Registry;
let client: ClientHome;
let env: Record<string, string>;

beforeAll(async () => {
  [keyring, registry] = await Promise.all([startKeyring(), startRegistry()]);
  client = makeClientHome();
  env = { ...keyring.env, ...client.env }; // through the daemon, as users run it
});
afterAll(async () => {
  await Promise.all([keyring.stop(), registry.stop()]);
  client.remove();
});

const docker = (args: string[], input?: string) =>
  run('docker', args, { env, ...(input === undefined ? {} : { input }) });
const listed = async () => JSON.parse((await runHelper('list', '', env)).stdout) as Record<string, string>;

/** Logged in (and with an image pushed): the state later tests start from, whatever ran before them. */
async function givenLoggedIn(withImage = false): Promise<void> {
  const login = await docker(['login', '-u', registry.username, '--password-stdin', registry.host], registry.password);
  expect(login.stdout).toContain('Login Succeeded');
  if (withImage) expect((await pushAndInspect(registry.host, client.home, env)).pushed.code).toBe(0);
}

describe('docker CLI with "credsStore": "credrelay"', () => {
  beforeAll(() => client.writeDockerConfig({ credsStore: 'credrelay' }));

  it('rejects a wrong password at login and stores nothing', async () => {
    const result = await docker(
      ['login', '-u', registry.username, '--password-stdin', registry.host],
      'wrong-password',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unauthorized|401/i);
    expect(await listed()).toEqual({});
  });

  it('docker login verifies against the registry and stores in the keychain, not in config.json', async () => {
    const result = await docker(
      ['login', '-u', registry.username, '--password-stdin', registry.host],
      registry.password,
    );
    expect(result.stdout).toContain('Login Succeeded');
    expect(await listed()).toEqual({ [registry.host]: registry.username });
    const config = JSON.parse(readFileSync(join(client.dockerConfigDir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toEqual({ auths: { [registry.host]: {} }, credsStore: 'credrelay' });
    expect(keyring.search('credrelay')).toContain(`attribute.username = ${registry.host}`);
  });

  it('docker manifest inspect reads an image with the stored credential', async () => {
    await givenLoggedIn();
    // Put an image there first, through skopeo and credrelay, since no engine can push here.
    const { pushed } = await pushAndInspect(registry.host, client.home, env);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);

    const result = await docker(['manifest', 'inspect', '--insecure', `${registry.host}/demo:v1`]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      schemaVersion: 2,
      layers: [expect.objectContaining({ size: expect.any(Number) })],
    });
  });

  it('with credHelpers for the host instead of credsStore, reads the same credential', async () => {
    await givenLoggedIn(true);
    client.writeDockerConfig({ credHelpers: { [registry.host]: 'credrelay' } });
    try {
      const result = await docker(['manifest', 'inspect', '--insecure', `${registry.host}/demo:v1`]);
      expect(result.code).toBe(0);
    } finally {
      client.writeDockerConfig({ credsStore: 'credrelay', auths: { [registry.host]: {} } });
    }
  });

  it('docker logout erases it, and the registry then refuses the read', async () => {
    await givenLoggedIn();
    const result = await docker(['logout', registry.host]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(await listed()).toEqual({});
    const refused = await docker(['manifest', 'inspect', '--insecure', `${registry.host}/demo:v1`]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no basic auth credentials|unauthorized|authentication required/i);
  });

  it('left the password in no file under HOME', () => {
    expect(filesContaining(client.home, registry.password)).toEqual([]);
    expect(filesContaining(keyring.root, registry.password)).toEqual([]);
  });
});
