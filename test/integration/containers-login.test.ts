/**
 * podman, buildah and skopeo keep logins in their own auth file (the password base64-encoded) unless a
 * registries.conf drop-in names credential helpers. `credrelay configure-docker --containers` writes that drop-in
 * where they read it; then their `login` stores through credrelay and writes no auth file, their lookups go through
 * it, and `logout` erases there. As root the drop-in is system-wide (/etc/containers/registries.conf.d), so every
 * command here runs in a private mount namespace whose /etc/containers is a copy of the machine's: the suites
 * running beside this one never see the drop-in.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containersDropInPath } from '../../src/cli/docker/containers-config.js';
import { enginesInstalled } from '../support/engines.js';
import { CLI, run } from '../support/helper.js';
import { type Keyring, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { type Registry, startRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/temp.js';

const dir = makeTempDir('containers-login');
// podman refuses a runroot longer than 50 characters, which a test TMPDIR easily is.
const runroots = mkdtempSync('/tmp/crc-');
let session: Keyring;
let registry: Registry;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  [session, registry] = await Promise.all([startKeyring(), startRegistry('podman-user', 'containers-pass-8817')]);
  // The machine's /etc/containers, copied: what the tools read, with credrelay's drop-in added in the copy only.
  cpSync('/etc/containers', join(dir.path, 'etc-containers'), { recursive: true });
  mkdirSync(join(dir.path, 'var-lib'));
  mkdirSync(join(dir.path, 'run'), { mode: 0o700 });
  env = {
    ...session.env,
    DOCKER_CONFIG: join(dir.path, 'docker'),
    XDG_RUNTIME_DIR: join(dir.path, 'run'),
    REGISTRY_AUTH_FILE: undefined,
  };
}, 120_000);
afterAll(async () => {
  await stopCredrelayDaemon(session?.runtimeDir);
  await Promise.all([session?.stop(), registry?.stop()]);
  dir.remove();
  rmSync(runroots, { recursive: true, force: true });
});

/** A command in the private mount namespace (its own /etc/containers and /var/lib/containers). */
function inNamespace(command: string, args: string[], input = '') {
  const script = [
    `mount --bind ${join(dir.path, 'etc-containers')} /etc/containers`,
    `mount --bind ${join(dir.path, 'var-lib')} /var/lib/containers`,
    'exec "$@"',
  ].join(' && ');
  return run('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', command, ...args], {
    env,
    input,
    timeoutMs: 60_000,
  });
}

const storage = (engine: string) =>
  engine === 'skopeo'
    ? []
    : [
        '--root',
        join(dir.path, `${engine}-root`),
        '--runroot',
        join(runroots, engine),
        '--storage-driver',
        'vfs',
        ...(engine === 'podman' ? ['--cgroup-manager', 'cgroupfs', '--events-backend', 'file'] : []),
      ];

/** Every file under a directory that holds a text. */
function filesHolding(root: string, text: string): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && statSync(full).size < 4_000_000 && readFileSync(full).includes(text)) found.push(full);
    }
  };
  if (existsSync(root)) walk(root);
  return found;
}

describe.runIf(enginesInstalled())('podman, buildah and skopeo through credrelay', () => {
  it('configure-docker --containers writes the drop-in where they read it (in the namespace only)', async () => {
    const configured = await inNamespace(CLI, ['configure-docker', '--containers']);
    expect(configured.code, configured.stderr).toBe(0);
    expect(configured.stdout).toContain(`wrote ${containersDropInPath()}`);
    const dropIn = join(dir.path, 'etc-containers', 'registries.conf.d', '50-credrelay.conf');
    expect(readFileSync(dropIn, 'utf8')).toContain('credential-helpers = ["credrelay"]');
    expect(existsSync('/etc/containers/registries.conf.d/50-credrelay.conf')).toBe(false);
    const doctor = await inNamespace(CLI, ['doctor']);
    expect(doctor.stdout).toMatch(/^✓ podman, buildah, skopeo +log in and look up through credrelay/m);
  });

  for (const engine of ['skopeo', 'podman', 'buildah']) {
    it(`${engine} login stores in credrelay and writes no auth file; ${engine} logout erases it`, async () => {
      const base64 = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
      const login = await inNamespace(
        engine,
        [...storage(engine), 'login', '--tls-verify=false', '-u', registry.username, '--password-stdin', registry.host],
        registry.password,
      );
      expect(login.code, login.stderr).toBe(0);
      expect(login.stdout).toMatch(/Login Succeeded/);
      const got = await run('docker-credential-credrelay', ['get'], { input: registry.host, env });
      expect(JSON.parse(got.stdout)).toMatchObject({ Username: registry.username, Secret: registry.password });
      // Neither the password nor its base64 in any file of the test's directories (auth files included).
      for (const secret of [registry.password, base64]) expect(filesHolding(dir.path, secret)).toEqual([]);
      const logout = await inNamespace(engine, [...storage(engine), 'logout', registry.host]);
      expect(logout.code, logout.stderr).toBe(0);
      const after = await run('docker-credential-credrelay', ['get'], { input: registry.host, env });
      expect(after.stdout).toBe('credentials not found in native keychain\n');
    });
  }

  it('configure-docker --undo removes the drop-in', async () => {
    const undone = await inNamespace(CLI, ['configure-docker', '--undo']);
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.stdout).toContain(`removed ${containersDropInPath()}`);
    expect(existsSync(join(dir.path, 'etc-containers', 'registries.conf.d', '50-credrelay.conf'))).toBe(false);
  });
});
