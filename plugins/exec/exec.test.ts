import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { findCredentialHelper, findOnPath, jwtExpiry } from '../../src/plugin-api.js';
import { createExecProvider } from './index.js';

/** A directory of fake docker-credential helpers, as a PATH. */
const bin = mkdtempSync(join(tmpdir(), 'credrelay-exec-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
const helper = (name: string, script: string) => {
  const file = join(bin, `docker-credential-${name}`);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
};
const runs = join(bin, 'runs.log');
helper(
  'fixed',
  `read -r server; echo "$1 $server" >> '${runs}'; printf '{"ServerURL":"%s","Username":"robot","Secret":"fixed-secret"}' "$server"`,
);
helper('empty', `echo "credentials not found in native keychain"; exit 1`);
helper('broken', `echo "helper exploded: \\033[31mred\\033[0m" >&2; exit 3`);
helper('garbage', `echo 'not json at all'`);
helper('slow', `sleep 5`);
// Answers at once, but leaves a child holding its stdout: in the background of its group, and in a session of its own.
helper('forks', `sleep 40 & printf '{"Username":"robot","Secret":"answered"}'`);
helper('escapes', `setsid sleep 40 & printf '{"Username":"robot","Secret":"answered"}'`);
helper('hangs', `setsid sleep 40 & sleep 40`);
helper('says', `echo "no token for this registry: run corp-login"; echo "trace: at line 3" >&2; exit 1`);
helper('apostrophes', `echo "the registry's token service can't be reached; password=hunter22 'x'"; exit 1`);
helper('loud', `head -c 2000000 /dev/zero | tr '\\0' 'x'`);
helper('store', `cat > '${join(bin, 'stored.json')}'; echo "$1" >> '${runs}'`);

const provider = createExecProvider({ path: () => bin, deadlineMs: 1000 });
const context = (options: Record<string, unknown>) => testContext({ helper: 'fixed', ...options });

runProviderContract('exec', {
  create: () => provider,
  ownHosts: [],
  spoofedHosts: ['registry.example', 'docker.io', 'ghcr.io'],
  answers: { host: 'registry.example', options: { helper: 'fixed' } },
  fails: {
    host: 'registry.example',
    options: { helper: 'not-installed' },
    outcome: /docker-credential-not-installed is not on PATH .*: install it, or fix "helper"/,
  },
});

describe('exec provider', () => {
  it('runs the helper with the registry on stdin, as Docker would, and answers its credential', async () => {
    expect(await provider.get(parseRegistry('https://registry.example:5000/v2/'), context({}))).toEqual({
      username: 'robot',
      secret: 'fixed-secret',
    });
    expect(readFileSync(runs, 'utf8')).toContain('get registry.example:5000\n');
    await provider.get(parseRegistry('index.docker.io'), context({}));
    expect(readFileSync(runs, 'utf8')).toContain('get https://index.docker.io/v1/\n');
  });

  it("keeps the helper's not-found as not-found", async () => {
    expect(await provider.get(parseRegistry('registry.example'), context({ helper: 'empty' }))).toBeUndefined();
  });

  it("passes other failures through with the helper's own message, printable and bounded", async () => {
    const error = await provider.get(parseRegistry('registry.example'), context({ helper: 'broken' })).catch((e) => e);
    expect(error.message).toMatch(/^docker-credential-broken get failed \(exit 3\): helper exploded: /);
    expect(error.message).not.toContain('\u001b');
  });

  it('refuses an answer that is not a credential, and a helper that is not there', async () => {
    await expect(provider.get(parseRegistry('r.example'), context({ helper: 'garbage' }))).rejects.toThrow(
      /answered something that is not a credential/,
    );
    await expect(provider.get(parseRegistry('r.example'), context({ helper: 'absent' }))).rejects.toThrow(
      /docker-credential-absent is not on PATH/,
    );
  });

  it('kills a helper that outlives the deadline, and one that prints without end', async () => {
    const started = Date.now();
    await expect(provider.get(parseRegistry('r.example'), context({ helper: 'slow' }))).rejects.toThrow(
      /did not answer within 1 s and was stopped/,
    );
    expect(Date.now() - started).toBeLessThan(4000);
    await expect(provider.get(parseRegistry('r.example'), context({ helper: 'loud' }))).rejects.toThrow(
      /printed more than 1 MiB/,
    );
  });

  it('keeps answers for cacheSeconds (default 300), or until a JWT secret expires', () => {
    expect(provider.cachePolicy?.keepSeconds?.({ helper: 'x' })).toBe(300);
    expect(provider.cachePolicy?.keepSeconds?.({ helper: 'x', cacheSeconds: 30 })).toBe(30);
    const exp = Math.floor(Date.now() / 1000) + 600;
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
    expect(jwtExpiry(jwt)).toEqual(new Date(exp * 1000));
    expect(jwtExpiry('not.a-jwt.token')).toBeUndefined();
    expect(jwtExpiry(`e30.${Buffer.from('{"exp":1}').toString('base64url')}.sig`)).toBeUndefined();
  });

  it('passes store and erase on only with "storage": true', async () => {
    const registry = parseRegistry('stored.example');
    const credential = { serverURL: 'stored.example', username: 'u', secret: 's3' };
    const off = context({ helper: 'store' });
    await provider.storage!.store(registry, credential, off);
    expect(off.notices.join('\n')).toMatch(/without "storage": true; nothing was stored/);
    const on = context({ helper: 'store', storage: true });
    await provider.storage!.store(registry, credential, on);
    expect(JSON.parse(readFileSync(join(bin, 'stored.json'), 'utf8'))).toEqual({
      ServerURL: 'stored.example',
      Username: 'u',
      Secret: 's3',
    });
    await provider.storage!.erase(registry, on);
    expect(readFileSync(runs, 'utf8')).toMatch(/store\nerase\n$/);
  });

  it("settles on the helper's exit, though a child it left behind keeps its stdout open", async () => {
    for (const helperName of ['forks', 'escapes']) {
      expect(await provider.get(parseRegistry('r.example'), context({ helper: helperName }))).toEqual({
        username: 'robot',
        secret: 'answered',
      });
    }
  });

  it('stops at the deadline a helper whose child left its group and holds the pipes', async () => {
    await expect(provider.get(parseRegistry('r.example'), context({ helper: 'hangs' }))).rejects.toThrow(
      /docker-credential-hangs get did not answer within 1 s and was stopped/,
    );
  });

  it("leads with the helper's protocol message (stdout), with its stderr only as detail", async () => {
    const error = await provider.get(parseRegistry('r.example'), context({ helper: 'says' })).catch((e) => e);
    expect(error.message).toBe(
      'docker-credential-says get failed (exit 1): no token for this registry: run corp-login (stderr: trace: at line 3)',
    );
  });

  it('passes a message with apostrophes on whole, with only what looks like a secret replaced', async () => {
    const error = await provider.get(parseRegistry('r.example'), context({ helper: 'apostrophes' })).catch((e) => e);
    expect(error.message).toBe(
      `docker-credential-apostrophes get failed (exit 1): the registry's token service can't be reached; password=[redacted] "…"`,
    );
  });

  it('validates its options: a helper name without a path, a bounded cacheSeconds, a boolean storage', () => {
    const options = provider.routes!.options;
    expect(options.helper!.pattern!.test('gcloud')).toBe(true);
    for (const name of ['../bin/sh', '/usr/bin/x', '-rf', 'a b', ''])
      expect(options.helper!.pattern!.test(name)).toBe(false);
    expect(options.cacheSeconds).toMatchObject({ type: 'number', range: [0, 86400] });
    expect(options.storage).toMatchObject({ type: 'boolean' });
  });
});

describe("the helper's environment", () => {
  it("is what any program needs, not every variable of this process, and no other provider's credentials", async () => {
    helper(
      'envcheck',
      `printf '{"Username":"u","Secret":"%s|%s|%s"}' "\${EXEC_UNNAMED_VARIABLE:-unset}" "\${AWS_SECRET_ACCESS_KEY:-unset}" "\${HOME:-unset}"`,
    );
    process.env.EXEC_UNNAMED_VARIABLE = 'leaks-in-process-only';
    process.env.AWS_SECRET_ACCESS_KEY = 'another-providers-secret';
    try {
      const credential = await provider.get(parseRegistry('r.example'), context({ helper: 'envcheck' }));
      expect(credential?.secret).toBe(`unset|unset|${process.env.HOME}`);
    } finally {
      delete process.env.EXEC_UNNAMED_VARIABLE;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('and the variables the configuration names', async () => {
    helper('namedcheck', `printf '{"Username":"u","Secret":"%s"}' "\${CORP_HELPER_TOKEN:-unset}"`);
    const config = join(bin, 'config.json');
    writeFileSync(config, JSON.stringify({ environment: ['CORP_HELPER_TOKEN'] }));
    process.env.CREDRELAY_CONFIG = config;
    process.env.CORP_HELPER_TOKEN = 'named-in-config';
    try {
      const credential = await provider.get(parseRegistry('r.example'), context({ helper: 'namedcheck' }));
      expect(credential?.secret).toBe('named-in-config');
    } finally {
      delete process.env.CREDRELAY_CONFIG;
      delete process.env.CORP_HELPER_TOKEN;
    }
  });
});

describe('PATH as Go reads it', () => {
  it('skips relative and empty entries: a helper in the current directory is never run', () => {
    const checkout = mkdtempSync(join(tmpdir(), 'credrelay-checkout-'));
    const planted = join(checkout, 'docker-credential-corp');
    writeFileSync(planted, '#!/bin/sh\necho planted\n');
    chmodSync(planted, 0o755);
    const cwd = process.cwd();
    process.chdir(checkout);
    try {
      for (const path of ['.', '', `:${bin}`, `.:${bin}`, `./:${bin}`, 'sub/..']) {
        expect(findCredentialHelper('corp', path)).toBeUndefined();
        expect(findOnPath('docker-credential-corp', path)).toBeUndefined();
      }
      // The same file under an absolute entry is found, as an absolute path.
      expect(findCredentialHelper('corp', `.:${checkout}`)).toBe(planted);
    } finally {
      process.chdir(cwd);
      rmSync(checkout, { recursive: true, force: true });
    }
  });
});
