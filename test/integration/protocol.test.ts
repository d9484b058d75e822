import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Keyring, type KeyringState, startKeyring, stopCredrelayDaemon } from '../support/keyring.js';
import { HELPER, type RunResult, run, runHelper, VERSION } from '../support/helper.js';

/** Debian's build of Docker's own Secret Service helper: the reference we compare bytes with. */
const REFERENCE = 'docker-credential-secretservice';

/** The same contract must hold whether the helper answers in its own process or through the daemon. */
const MODES = { 'in-process': { CREDRELAY_NO_DAEMON: '1' }, 'through the daemon': {} } as const;

describe.each(Object.entries(MODES))('%s', (mode, modeEnv) => {
  let keyring: Keyring;
  let env: Record<string, string>;
  beforeAll(async () => {
    keyring = await startKeyring();
    env = { ...keyring.env, ...modeEnv };
  });
  afterAll(async () => {
    await keyring.stop();
  });

  const reference = (action: string, input: string, args: string[] = []): Promise<RunResult> =>
    run(REFERENCE, [action, ...args], { input, env });
  const credrelay = (action: string, input: string | Buffer, args: string[] = []): Promise<RunResult> =>
    runHelper(action, input, env, args);

  /** stdout and exit code, with each helper's own name made equal. */
  const answer = (result: RunResult) => ({
    stdout: result.stdout.replace(REFERENCE, 'HELPER').replace('docker-credential-credrelay', 'HELPER'),
    code: result.code,
  });

  describe('the protocol, byte for byte as the reference helper speaks it', () => {
    it('stores and gets an identity token with the same bytes', async () => {
      const document = '{"ServerURL":"127.0.0.1:5200","Username":"<token>","Secret":"tok&<>"}\n';
      expect(answer(await credrelay('store', document))).toEqual(answer(await reference('store', document)));
      const ours = await credrelay('get', '127.0.0.1:5200');
      expect(ours).toEqual({
        stdout: '{"ServerURL":"127.0.0.1:5200","Username":"\\u003ctoken\\u003e","Secret":"tok\\u0026\\u003c\\u003e"}\n',
        stderr: '',
        code: 0,
      });
      expect(answer(ours)).toEqual(answer(await reference('get', '127.0.0.1:5200')));
    });

    it.each([
      ['get', 'missing.example:5000'],
      ['get', ''],
      ['get', ' \n '],
      ['erase', ''],
      ['store', '{"Username":"u","Secret":"s"}'],
      ['store', '{"ServerURL":"r.example","Secret":"s"}'],
      ['erase', 'never-stored.example'],
    ])('%s %j answers exactly as the reference', async (action, input) => {
      expect(answer(await credrelay(action, input))).toEqual(answer(await reference(action, input)));
    });

    it('answers extra arguments, and no argument at all, with the reference usage line and exit 1', async () => {
      expect(answer(await credrelay('get', 'x', ['extra']))).toEqual(answer(await reference('get', 'x', ['extra'])));
      const none = answer(await run(HELPER, [], { input: '', env }));
      expect(none).toEqual(answer(await run(REFERENCE, [], { input: '', env })));
      expect(none).toEqual({ stdout: 'Usage: HELPER <store|get|erase|list|version>\n', code: 1 });
    });

    it('rejects invalid JSON with a clear error of its own, exit 1, never quoting the secret', async () => {
      const result = await credrelay('store', '{"ServerURL":"r","Username":"u","Secret":"json-canary" !!');
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^stdin is not valid JSON; store expects .*\n$/);
      expect(result.stdout + result.stderr).not.toContain('json-canary');
    });

    it('prints one version line', async () => {
      expect(await credrelay('version', '')).toEqual({
        stdout: `docker-credential-credrelay (credrelay) ${VERSION}\n`,
        stderr: '',
        code: 0,
      });
    });
  });

  describe('registry identity through the binary (better than the reference)', () => {
    it('finds a credential stored as host:port when asked with a scheme, and erases it under another spelling', async () => {
      await credrelay('store', '{"ServerURL":"127.0.0.1:5300","Username":"frank","Secret":"pw-5300"}');
      const viaURL = await credrelay('get', 'https://127.0.0.1:5300\n');
      expect(viaURL).toMatchObject({
        code: 0,
        stdout: '{"ServerURL":"https://127.0.0.1:5300","Username":"frank","Secret":"pw-5300"}\n',
      });
      expect(await credrelay('erase', 'http://127.0.0.1:5300/')).toMatchObject({ code: 0, stdout: '' });
      expect((await credrelay('get', '127.0.0.1:5300')).stdout).toBe('credentials not found in native keychain\n');
    });

    it('lists each entry under the ServerURL it was stored with, and only credrelay entries', async () => {
      await reference('store', '{"ServerURL":"reference-only.example","Username":"ref","Secret":"r"}');
      await credrelay('store', '{"ServerURL":"https://index.docker.io/v1/","Username":"hubuser","Secret":"hub"}');
      await credrelay('store', '{"ServerURL":"docker.io","Username":"hubuser2","Secret":"hub2"}');
      const listed = JSON.parse((await credrelay('list', '')).stdout) as Record<string, string>;
      expect(listed['docker.io']).toBe('hubuser2');
      expect(listed['https://index.docker.io/v1/']).toBeUndefined();
      expect(listed['reference-only.example']).toBeUndefined();
      expect(JSON.stringify(listed)).not.toContain('hub2"');
      const hub = await credrelay('get', 'https://index.docker.io/v1/');
      expect(JSON.parse(hub.stdout)).toEqual({
        ServerURL: 'https://index.docker.io/v1/',
        Username: 'hubuser2',
        Secret: 'hub2',
      });
    });

    it.each([
      ['ftp://registry.example', /scheme must be https or http/],
      ['https://user:pw-canary@registry.example', /user@host/],
      ['registry.example/\u0007', /control/],
    ])('rejects %j with a clear error, exit 1', async (serverURL, message) => {
      const result = await credrelay('get', serverURL);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(message);
      expect(result.stdout).not.toContain('pw-canary');
    });
  });

  describe('input bounds', () => {
    it('rejects a server line over 64 KiB', async () => {
      const result = await credrelay('get', Buffer.alloc(64 * 1024 + 10, 'a'));
      expect(result).toMatchObject({ code: 1, stdout: expect.stringMatching(/larger than 64 KiB/) });
    });
    it('rejects a store document over 1 MiB without reading all of it', async () => {
      const result = await credrelay('store', Buffer.alloc(8 * 1024 * 1024, ' '));
      expect(result).toMatchObject({ code: 1, stdout: expect.stringMatching(/larger than 1 MiB/) });
    });
  });

  describe('an unreachable keychain is a clear error within seconds, never a hang or a silent not-found', () => {
    const cases: Array<[string, () => Record<string, string | undefined>, RegExp]> = [
      [
        'no session bus at all',
        () => ({ DBUS_SESSION_BUS_ADDRESS: undefined, DISPLAY: undefined }),
        /^no D-Bus session bus for the OS keychain: .*credrelay doctor/,
      ],
      [
        'a bus address whose socket is gone',
        () => ({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' }),
        /^no D-Bus session bus/,
      ],
    ];
    // These change the environment of one call, so they only make sense for a helper that answers itself.
    it.skipIf(mode !== 'in-process').each(cases)('%s', async (_name, overrides, message) => {
      for (const action of ['get', 'store', 'erase']) {
        const input = action === 'store' ? '{"ServerURL":"r.example","Username":"u","Secret":"s"}' : 'r.example';
        const started = Date.now();
        const result = await runHelper(action, input, { ...env, ...overrides() });
        expect(result.code).toBe(1);
        expect(result.stdout).toMatch(message);
        expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
        expect(Date.now() - started).toBeLessThan(10_000);
      }
      // `list` names what the routes answer (none here) and says on stderr why the store was left out: callers that
      // collect every credential (the legacy builder, compose v1) would otherwise send none.
      const listed = await runHelper('list', '', { ...env, ...overrides() });
      expect(listed).toMatchObject({ code: 0, stdout: '{}\n' });
      expect(listed.stderr.replace(/^credrelay: /, '')).toMatch(message);
    });

    const states: Array<[KeyringState, Record<string, RegExp | string>]> = [
      [
        'no-secret-service',
        {
          get: /^no Secret Service on D-Bus: start gnome-keyring/,
          list: '{}\n',
          store: /^no Secret Service/,
          erase: /^no Secret Service/,
        },
      ],
      // Nothing was ever stored, so "not found" is the truth; storing says how to create the keyring.
      [
        'no-login-collection',
        {
          get: 'credentials not found in native keychain\n',
          list: '{}\n',
          store: /^the Secret Service has no default \(login\) keyring/,
          erase: '',
        },
      ],
    ];
    it('a locked keyring: its items are a clear error, never "not found"; a registry never stored is not found', async () => {
      const keyring = await startKeyring('unlocked');
      try {
        const stored = '{"ServerURL":"r.example","Username":"u","Secret":"s"}';
        expect((await runHelper('store', stored, { ...keyring.env, ...modeEnv })).code).toBe(0);
        await stopCredrelayDaemon(keyring.runtimeDir); // a fresh daemon meets the keyring locked
        keyring.lock();
        const expected = {
          get: /^the OS keychain is locked.*unlock it/,
          store: /locked/,
          erase: /locked/,
        };
        for (const [action, answer] of Object.entries(expected)) {
          const input = action === 'store' ? stored : 'r.example';
          const result = await runHelper(action, input, { ...keyring.env, ...modeEnv });
          expect(result.code, action).toBe(1);
          expect(result.stdout, action).toMatch(answer);
        }
        const listed = await runHelper('list', '', { ...keyring.env, ...modeEnv });
        expect(listed).toMatchObject({ code: 0, stdout: '{}\n' });
        expect(listed.stderr).toMatch(/^credrelay: .*locked.*; listing the configured routes only\n$/);
        const never = await runHelper('get', 'never.example', { ...keyring.env, ...modeEnv });
        expect(never.stdout).toBe('credentials not found in native keychain\n');
      } finally {
        await keyring.stop();
      }
    });

    it.each(states)('a keyring that is %s', async (state, expected) => {
      const keyring = await startKeyring(state);
      try {
        for (const [action, answer] of Object.entries(expected)) {
          const input = action === 'store' ? '{"ServerURL":"r.example","Username":"u","Secret":"s"}' : 'r.example';
          const result = await runHelper(action, input, { ...keyring.env, ...modeEnv });
          if (typeof answer === 'string') expect(result.stdout, action).toBe(answer);
          else expect(result.stdout, action).toMatch(answer);
        }
      } finally {
        await keyring.stop();
      }
    });
  });
});
