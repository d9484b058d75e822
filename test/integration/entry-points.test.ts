import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, HELPER, NODE_CLIENT, REPO_ROOT, run } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';

let keyring: Keyring;
let scratch: ReturnType<typeof makeTempDir>;
beforeAll(async () => {
  keyring = await startKeyring();
  scratch = makeTempDir('imports');
});
afterAll(async () => {
  await keyring.stop();
  scratch.remove();
});

let recordings = 0;
/** Runs the helper and returns the third-party packages (under node_modules) it loaded. */
async function packagesLoaded(args: string[], input = ''): Promise<string[]> {
  return (await modulesLoaded(args, input)).packages;
}

/** Runs the helper and returns the third-party packages and every module file it loaded. */
async function modulesLoaded(args: string[], input = ''): Promise<{ packages: string[]; files: string[] }> {
  const file = join(scratch.path, `imports-${(recordings += 1)}.txt`);
  const result = await run(
    process.execPath,
    ['--import', join(REPO_ROOT, 'test/support/record-imports.mjs'), NODE_CLIENT, ...args],
    {
      input,
      env: { ...keyring.env, CREDRELAY_NO_DAEMON: '1', CREDRELAY_TEST_IMPORTS_FILE: file },
    },
  );
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const urls = readFileSync(file, 'utf8').split('\n');
  return {
    packages: [...new Set(urls.flatMap((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? []))].sort(),
    files: urls,
  };
}

describe('the protocol path loads only what it needs', () => {
  it('version loads no package at all', async () => {
    expect(await packagesLoaded(['version'])).toEqual([]);
  });
  it('get, served in-process, loads no package on its main thread: no oclif, no cloud SDK', async () => {
    await run(HELPER, ['store'], {
      input: '{"ServerURL":"lazy.example","Username":"u","Secret":"s"}',
      env: { ...keyring.env, CREDRELAY_NO_DAEMON: '1' },
    });
    // The keychain module loads on the keychain's own thread (a worker, whose loads this recorder does not see);
    // the answer shows that it did.
    expect(await packagesLoaded(['get'], 'lazy.example')).toEqual([]);
    const answer = await run(HELPER, ['get'], {
      input: 'lazy.example',
      env: { ...keyring.env, CREDRELAY_NO_DAEMON: '1' },
    });
    expect(JSON.parse(answer.stdout)).toMatchObject({ Secret: 's' });
  });
  it('anything else goes to the management CLI: one bundle with oclif in it', async () => {
    const { packages, files } = await modulesLoaded(['--help']);
    expect(files.filter((url) => url.endsWith('/dist/src/cli/bundle.cjs'))).not.toEqual([]);
    // oclif is inside the bundle: no module of its own package is resolved and loaded one by one.
    expect(packages).not.toContain('@oclif/core');
  });
});

describe('the management CLI', () => {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('credrelay --version names the version', async () => {
    const result = await run(CLI, ['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^credrelay/${version.replaceAll('.', '\\.')} `));
  });
  it('credrelay --help shows usage', async () => {
    const result = await run(CLI, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('USAGE');
    expect(result.stdout).toContain('$ credrelay');
  });
  it('docker-credential-credrelay --help is the same help', async () => {
    expect((await run(HELPER, ['--help'])).stdout).toBe((await run(CLI, ['--help'])).stdout);
  });
  it('package.json exposes both executables', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(manifest.bin).toEqual({
      credrelay: 'bin/credrelay',
      'docker-credential-credrelay': 'bin/docker-credential-credrelay',
    });
  });
});

describe('the client path through a warm daemon', () => {
  it('loads no package at all: only node: modules and the one bundled client file', async () => {
    const env = { ...keyring.env };
    await run(HELPER, ['store'], { input: '{"ServerURL":"warm.example","Username":"u","Secret":"s"}', env });
    const file = join(scratch.path, 'imports-warm.txt');
    const result = await run(
      process.execPath,
      ['--import', join(REPO_ROOT, 'test/support/record-imports.mjs'), NODE_CLIENT, 'get'],
      { input: 'warm.example', env: { ...env, CREDRELAY_TEST_IMPORTS_FILE: file } },
    );
    expect(result.stdout).toBe('{"ServerURL":"warm.example","Username":"u","Secret":"s"}\n');
    const urls = readFileSync(file, 'utf8').trim().split('\n');
    expect(urls.filter((url) => !url.startsWith('node:') && !url.includes('/test/support/'))).not.toContainEqual(
      expect.stringContaining('node_modules'),
    );
    // The whole client path is one bundled file: no module graph to resolve on every call.
    const ours = new Set(urls.flatMap((url) => /\/dist\/src\/(.*)$/.exec(url)?.[1] ?? []));
    expect([...ours]).toEqual(['bin/credential-helper.cjs']);
  });
});
