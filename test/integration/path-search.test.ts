/**
 * Every program credrelay starts is found through absolute PATH entries only: a relative or empty entry (a leading or
 * trailing `:` is the current directory) would run a `node` (with the request, a password for `store`, on its
 * stdin) from whatever directory Docker was started in, such as a checkout that holds a file named `node`. And the
 * launcher runs only from the package it belongs to, never from a directory that merely sits where a package could.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCredrelayConfig } from '../support/config.js';
import { BIN_DIR, HELPER, REPO_ROOT, VERSION, run } from '../support/helper.js';
import { makeTempDir } from '../support/temp.js';

const dir = makeTempDir('path-search');
afterAll(() => dir.remove());

/** A directory holding a `node` that records it ran: what a hostile checkout would hold. */
const checkout = join(dir.path, 'checkout');
const ranMarker = join(dir.path, 'planted-node-ran');
let env: Record<string, string>;

beforeAll(() => {
  mkdirSync(checkout);
  writeFileSync(join(checkout, 'node'), `#!/bin/sh\necho ran >> ${ranMarker}\ncat > /dev/null\n`);
  chmodSync(join(checkout, 'node'), 0o755);
  const configHome = join(dir.path, 'config');
  writeCredrelayConfig(configHome, {
    registries: { 'path.example': { provider: 'static', username: 'u', password: '$PATH_SECRET' } },
  });
  env = {
    HOME: dir.path,
    XDG_CONFIG_HOME: configHome,
    XDG_RUNTIME_DIR: join(dir.path, 'run'),
    PATH_SECRET: 'path-secret',
    // The current directory first (an empty entry), then relative, then the real node.
    PATH: `:.:bin:${dirname(process.execPath)}:/usr/bin:/bin`,
    CREDRELAY_NO_DAEMON: '1',
  };
});

describe('programs are found through absolute PATH entries only', () => {
  it('the native client hands over to the real node, never ./node', async () => {
    for (const native of ['1', '0']) {
      const result = await run(HELPER, ['get'], {
        input: 'path.example',
        env: { ...env, CREDRELAY_NATIVE: native },
        cwd: checkout,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ Secret: 'path-secret' });
    }
    expect(existsSync(ranMarker)).toBe(false);
  });

  it('the launcher, with no native client in its package, runs the real node, never ./node', async () => {
    const pkg = join(dir.path, 'package-without-native');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{\n  "name": "credrelay",\n  "version": "0.0.0"\n}\n');
    copyFileSync(join(BIN_DIR, 'docker-credential-credrelay'), join(pkg, 'bin', 'docker-credential-credrelay'));
    chmodSync(join(pkg, 'bin', 'docker-credential-credrelay'), 0o755);
    writeFileSync(join(pkg, 'bin', 'docker-credential-credrelay-node'), "process.stdout.write('real node ran');\n");
    const result = await run(join(pkg, 'bin', 'docker-credential-credrelay'), ['version'], { env, cwd: checkout });
    expect(result.stdout).toBe('real node ran');
    expect(existsSync(ranMarker)).toBe(false);
  });
});

describe('the launcher runs only its own package', () => {
  it('linked from a directory with a Node client of its own beside it, it runs the package it links to', async () => {
    const elsewhere = join(dir.path, 'elsewhere');
    mkdirSync(join(elsewhere, 'bin'), { recursive: true });
    const foreign = join(dir.path, 'foreign-client-ran');
    writeFileSync(
      join(elsewhere, 'bin', 'docker-credential-credrelay-node'),
      `require('node:fs').writeFileSync(${JSON.stringify(foreign)}, 'ran');\n`,
    );
    symlinkSync(join(BIN_DIR, 'docker-credential-credrelay'), join(elsewhere, 'bin', 'docker-credential-credrelay'));
    const result = await run(join(elsewhere, 'bin', 'docker-credential-credrelay'), ['version'], {
      env: { ...env, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(VERSION);
    expect(existsSync(foreign)).toBe(false);
    expect(REPO_ROOT).not.toBe(elsewhere);
  });
});
