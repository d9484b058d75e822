import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, run } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';

/**
 * Docker's own client library (github.com/docker/docker-credential-helpers/client) driving credrelay and the
 * reference Secret Service helper side by side: what the library makes of credrelay's answers must be what it
 * makes of Docker's own helper's.
 */
let keyring: Keyring;
let build: ReturnType<typeof makeTempDir>;
let goClient: string;

beforeAll(async () => {
  keyring = await startKeyring();
  build = makeTempDir('go-client');
  goClient = join(build.path, 'go-client');
  // Offline build against Debian's packaged sources of the library.
  execFileSync('go', ['build', '-o', goClient, 'main.go'], {
    cwd: join(REPO_ROOT, 'test', 'go-client'),
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${build.path}/gopath:/usr/share/gocode`,
      GOPROXY: 'off',
      GOFLAGS: '',
      GOCACHE: join(build.path, 'cache'),
    },
    stdio: 'pipe',
  });
});
afterAll(async () => {
  await keyring.stop();
  build.remove();
});

interface Outcome {
  ok: boolean;
  notFound?: boolean;
  error?: string;
  credentials?: { ServerURL: string; Username: string; Secret: string };
  list?: Record<string, string>;
}

const library = async (helper: string, args: string[], secret = ''): Promise<Outcome> => {
  const result = await run(goClient, [helper, ...args], { env: { ...keyring.env, SECRET: secret } });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Outcome;
};

const HELPERS = { credrelay: 'docker-credential-credrelay', reference: 'docker-credential-secretservice' } as const;

describe.each(Object.entries(HELPERS))('Docker client library against %s', (_name, helper) => {
  const host = `127.0.0.1:${_name === 'credrelay' ? 5601 : 5602}`;

  it('Get of an unknown registry is IsErrCredentialsNotFound', async () => {
    expect(await library(helper, ['get', `nothing-${_name}.example`])).toMatchObject({ ok: false, notFound: true });
  });

  it('Store then Get returns the credential', async () => {
    expect(await library(helper, ['store', host, 'grace'], 'lib-secret')).toEqual({ ok: true });
    expect(await library(helper, ['get', host])).toEqual({
      ok: true,
      credentials: { ServerURL: host, Username: 'grace', Secret: 'lib-secret' },
    });
  });

  it('Store with an identity token keeps it', async () => {
    expect(await library(helper, ['store', `${host}0`, '<token>'], 'identity-token')).toEqual({ ok: true });
    expect((await library(helper, ['get', `${host}0`])).credentials).toEqual({
      ServerURL: `${host}0`,
      Username: '<token>',
      Secret: 'identity-token',
    });
  });

  it('Store without a username fails with the missing-username text the library recognises', async () => {
    // Debian's packaged library (0.6.4) wraps the helper's answer; both helpers must produce the same wrapping.
    expect(await library(helper, ['store', host, ''], 's')).toEqual({
      ok: false,
      error: 'error storing credentials - err: no credentials username, out: `no credentials username`',
    });
  });

  it('List shows the entry', async () => {
    expect(await library(helper, ['store', host, 'grace'], 'lib-secret')).toEqual({ ok: true }); // whatever ran before
    expect((await library(helper, ['list'])).list).toMatchObject({ [host]: 'grace' });
  });

  it('Erase removes it, and Get is then IsErrCredentialsNotFound', async () => {
    expect(await library(helper, ['store', host, 'grace'], 'lib-secret')).toEqual({ ok: true });
    expect(await library(helper, ['erase', host])).toEqual({ ok: true });
    expect(await library(helper, ['get', host])).toMatchObject({ ok: false, notFound: true });
  });
});

describe('where credrelay is deliberately better than the reference', () => {
  it('Get under another spelling of a stored registry finds it; the reference misses', async () => {
    await library(HELPERS.credrelay, ['store', '127.0.0.1:5701', 'heidi'], 'spelling');
    await library(HELPERS.reference, ['store', '127.0.0.1:5702', 'heidi'], 'spelling');
    expect((await library(HELPERS.credrelay, ['get', 'https://127.0.0.1:5701'])).credentials?.Secret).toBe('spelling');
    expect(await library(HELPERS.reference, ['get', 'https://127.0.0.1:5702'])).toMatchObject({ notFound: true });
  });
});
