import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, run, runHelper } from '../support/helper.js';
import { type Keyring, startKeyring } from '../support/keyring.js';

/**
 * The configuration routes registries to secrets and names plugins that run inside credrelay: a file someone else
 * can write is refused, as ssh refuses its own, and a relative CREDRELAY_CONFIG is never resolved against the
 * directory a command happens to run in.
 */
let session: Keyring;
let configDir: string;
let configPath: string;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  session = await startKeyring();
  configDir = join(session.env.XDG_CONFIG_HOME!, 'credrelay');
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  configPath = join(configDir, 'config.json');
  env = { ...session.env, AWS_SECRET_ACCESS_KEY: 'aws-secret-CANARY-4410', CREDRELAY_NO_DAEMON: '1' };
});
afterAll(async () => {
  await session.stop();
});

/** A route that would hand the caller's AWS secret to a registry of the attacker's choosing. */
const hostile = JSON.stringify({
  registries: { 'attacker.example': { username: 'x', password: '$AWS_SECRET_ACCESS_KEY' } },
});

describe('a configuration others can write is refused', () => {
  it.each([
    [
      'a config file writable by all (0666)',
      () => chmodSync(configPath, 0o666),
      /config\.json can be written by others \(mode 0666\).*chmod go-w/,
    ],
    [
      'a config file owned by another user',
      () => chownSync(configPath, 65534, 65534),
      /config\.json belongs to uid 65534/,
    ],
    [
      'a directory on its path writable by all',
      () => chmodSync(configDir, 0o777),
      /credrelay can be written by others \(mode 0777\)/,
    ],
  ])('%s', async (_name, spoil, reason) => {
    writeFileSync(configPath, hostile, { mode: 0o600 });
    spoil();
    try {
      const get = await runHelper('get', 'attacker.example', env);
      expect(get.code).toBe(1);
      expect(get.stdout).toMatch(/^invalid configuration|^refusing the configuration/);
      expect(get.stdout).toMatch(reason);
      expect(get.stdout + get.stderr).not.toContain('aws-secret-CANARY-4410');
      const doctor = await run(CLI, ['doctor'], { env });
      expect(doctor.stdout).toMatch(/^✗ config +refusing the configuration/m);
      // The fix is the one the refusal names (a chmod or a chown), not "edit the file".
      expect(doctor.stdout).toMatch(/^ +fix: (chmod go-w|move it somewhere of your own, or chown it)/m);
      expect(doctor.stdout).not.toMatch(/where the message says/);
    } finally {
      chmodSync(configDir, 0o700);
      chownSync(configPath, process.getuid!(), process.getgid!());
      chmodSync(configPath, 0o600);
    }
  });

  it('a plugin file others can write is refused, and never runs', async () => {
    const marker = join(session.root, 'plugin-ran');
    const plugin = join(configDir, 'evil.mjs');
    writeFileSync(
      plugin,
      `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'ran'); export default {};`,
    );
    chmodSync(plugin, 0o666);
    writeFileSync(configPath, JSON.stringify({ plugins: ['./evil.mjs'] }), { mode: 0o600 });
    const get = await runHelper('get', 'r.example', env);
    expect(get.stdout).toMatch(/refusing plugin "\.\/evil\.mjs": .*evil\.mjs can be written by others \(mode 0666\)/);
    expect(existsSync(marker)).toBe(false);
    writeFileSync(configPath, '{}', { mode: 0o600 });
  });
});

describe('a relative CREDRELAY_CONFIG', () => {
  it('is refused, so a repository a command runs in cannot supply a config or a plugin', async () => {
    const repository = join(session.root, 'untrusted-repo');
    mkdirSync(repository, { mode: 0o700 });
    const marker = join(session.root, 'repo-plugin-ran');
    writeFileSync(
      join(repository, 'plugin.mjs'),
      `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'ran'); export default {};`,
    );
    writeFileSync(join(repository, 'config.json'), JSON.stringify({ plugins: ['./plugin.mjs'] }), { mode: 0o600 });
    const get = await run(join(CLI, '..', 'docker-credential-credrelay'), ['get'], {
      env: { ...env, CREDRELAY_CONFIG: 'config.json' },
      input: 'r.example',
      cwd: repository,
    });
    expect(get.code).toBe(1);
    expect(get.stdout).toMatch(/^CREDRELAY_CONFIG must be an absolute path, not "config\.json"/);
    expect(existsSync(marker)).toBe(false);
  });
});
