/**
 * A machine without a keychain (no D-Bus: every Kubernetes node, most CI containers) with the default store: what
 * only the keychain could have served is "nothing" where the caller collects (kubelet mode, `list`), while the routes
 * keep answering; a direct `get` for such a registry still says why it has nothing. Through the daemon and in-process.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCredrelayConfig } from '../support/config.js';
import { runHelper } from '../support/helper.js';
import { stopCredrelayDaemon } from '../support/keyring.js';
import { makeTempDir } from '../support/temp.js';

const dir = makeTempDir('keychainless');
let env: Record<string, string | undefined>;

beforeAll(() => {
  writeCredrelayConfig(join(dir.path, 'config'), {
    registries: { 'routed.example': { provider: 'static', username: 'ci', password: '$ROUTED_TOKEN' } },
  });
  env = {
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    XDG_RUNTIME_DIR: join(dir.path, 'run'),
    XDG_DATA_HOME: join(dir.path, 'data'),
    XDG_STATE_HOME: join(dir.path, 'state'),
    XDG_CACHE_HOME: join(dir.path, 'cache'),
    // No session bus: not set, and nothing to autolaunch one.
    DBUS_SESSION_BUS_ADDRESS: undefined,
    DISPLAY: undefined,
    ROUTED_TOKEN: 'routed-token',
  };
});
afterAll(async () => {
  await stopCredrelayDaemon(join(dir.path, 'run', 'credrelay'));
  dir.remove();
});

const kubelet = (image: string) =>
  JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image });

describe.each([
  ['through the daemon', {}],
  ['in-process', { CREDRELAY_NO_DAEMON: '1' }],
] as const)('no keychain on the machine, %s', (_mode, extra) => {
  it.each(['unrouted.example/team/app:1', '123456789012.dkr.ecr.us-east-1.amazonaws.com.attacker.example/app:1'])(
    'kubelet mode answers an empty auth for %s, which only the keychain could serve, and exits 0',
    async (image) => {
      const result = await runHelper('kubelet', kubelet(image), { ...env, ...extra });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ kind: 'CredentialProviderResponse', auth: {} });
      expect(result.stderr).toMatch(/no route serves .* and the OS keychain cannot be reached here: no credential/);
    },
  );

  it('kubelet mode still answers a routed image', async () => {
    const result = await runHelper('kubelet', kubelet('routed.example/app:1'), { ...env, ...extra });
    expect(JSON.parse(result.stdout).auth).toEqual({ 'routed.example': { username: 'ci', password: 'routed-token' } });
  });

  it('list names the routes and says on stderr that the store could not be read', async () => {
    const result = await runHelper('list', '', { ...env, ...extra });
    expect(result.code, result.stdout).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ 'routed.example': 'ci' });
    expect(result.stderr).toMatch(/^credrelay: no D-Bus session bus .*; listing the configured routes only\n$/);
  });

  it('a direct get for what only the keychain could serve is still the explained error, never not-found', async () => {
    const result = await runHelper('get', 'unrouted.example', { ...env, ...extra });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^no D-Bus session bus for the OS keychain/);
  });
});
