import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHome, makeClientHome } from '../support/client-home.js';
import { run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { filesContaining } from '../support/leaks.js';
import { writeOciImage } from '../support/oci-image.js';
import { type Registry, startRegistry } from '../support/registry.js';

/** skopeo (which honours credHelpers, not credsStore) against a real htpasswd registry. */
let keyring: Keyring;
let registry: Registry;
let client: ClientHome;
let env: Record<string, string>;
let authfile: string;

beforeAll(async () => {
  [keyring, registry] = await Promise.all([startKeyring(), startRegistry()]);
  client = makeClientHome();
  env = { ...keyring.env, ...client.env }; // through the daemon, as users run it
  authfile = client.writeAuthFile('auth.json', { credHelpers: { [registry.host]: 'credrelay' } });
});
afterAll(async () => {
  await Promise.all([keyring.stop(), registry.stop()]);
  client.remove();
});

const skopeo = (args: string[], input?: string) =>
  run('skopeo', [...args.slice(0, 1), '--authfile', authfile, ...args.slice(1)], {
    env,
    ...(input === undefined ? {} : { input }),
  });

describe('skopeo with credHelpers -> credrelay', () => {
  it('cannot push before login: the registry wants credentials and credrelay has none', async () => {
    const image = writeOciImage(join(client.home, 'image-anon'));
    const result = await skopeo(['copy', '--dest-tls-verify=false', image, `docker://${registry.host}/anon:v1`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unauthorized|authentication required/i);
  });

  /** Logged in: the state the tests after the login start from, whatever ran before them. */
  const givenLoggedIn = async () => {
    const login = await skopeo(
      ['login', '--tls-verify=false', '-u', registry.username, '--password-stdin', registry.host],
      registry.password,
    );
    expect(login.code).toBe(0);
  };

  it('skopeo login with a wrong password fails and stores nothing', async () => {
    const result = await skopeo(
      ['login', '--tls-verify=false', '-u', registry.username, '--password-stdin', registry.host],
      'wrong',
    );
    expect(result.code).not.toBe(0);
    expect(JSON.parse((await runHelper('list', '', env)).stdout)).toEqual({});
  });

  it('skopeo login stores through credrelay', async () => {
    const result = await skopeo(
      ['login', '--tls-verify=false', '-u', registry.username, '--password-stdin', registry.host],
      registry.password,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Login Succeeded');
    expect(JSON.parse((await runHelper('list', '', env)).stdout)).toEqual({ [registry.host]: registry.username });
  });

  it('skopeo copy pushes with the credential, and skopeo inspect reads it back', async () => {
    await givenLoggedIn();
    const image = writeOciImage(join(client.home, 'image'));
    const copied = await skopeo(['copy', '--dest-tls-verify=false', image, `docker://${registry.host}/demo:v1`]);
    expect(copied.code).toBe(0);
    const inspected = await skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/demo:v1`]);
    expect(inspected.code).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({
      Name: `${registry.host}/demo`,
      Layers: [expect.stringMatching(/^sha256:/)],
    });
  });

  it('skopeo logout erases through credrelay, and reads are refused afterwards', async () => {
    await givenLoggedIn();
    expect((await skopeo(['logout', registry.host])).code).toBe(0);
    expect(JSON.parse((await runHelper('list', '', env)).stdout)).toEqual({});
    const refused = await skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/demo:v1`]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it('left the password in no file under HOME', () => {
    expect(filesContaining(client.home, registry.password)).toEqual([]);
    expect(filesContaining(keyring.root, registry.password)).toEqual([]);
  });
});
