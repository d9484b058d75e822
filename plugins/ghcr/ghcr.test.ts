import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { runProviderContract, testContext } from '../../src/testing/provider-contract.js';
import { createGhcrProvider, isGhcr } from './index.js';
import { ghLogin, tokenFromEnvironmentOrGh } from './token-source.js';

/** Spoofs of ghcr.io that must never be handed a GitHub token. */
export const GHCR_SPOOFS = [
  'ghcr.io.attacker.example',
  'ghcr.io:5000',
  'ghcr.io:443.attacker.example',
  'evil-ghcr.io',
  'ghcr.io.',
  'xghcr.io',
  'ghcr.iox',
  'ghcr-io.attacker.example',
  'attacker.example/ghcr.io',
  'https://ghcr.io@attacker.example',
  'https://attacker.example/ghcr.io',
  'ghcr.io%2eattacker.example',
  'sub.ghcr.io',
  'docker.pkg.github.com',
  'github.com',
  'ghcr.i0',
  'ghcr.io:80',
  'ghcr.io:8443',
  'ghcr.io\u200b',
  'ghcr .io',
];

const scratch = mkdtempSync(join(tmpdir(), 'credrelay-ghcr-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const saved = { ...process.env };
afterEach(() => {
  for (const name of ['GH_TOKEN', 'GITHUB_TOKEN', 'GITHUB_ACTOR', 'PATH', 'GH_CONFIG_DIR']) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

runProviderContract('ghcr', {
  create: createGhcrProvider,
  ownHosts: ['ghcr.io', 'https://ghcr.io/v2/', 'GHCR.IO', 'ghcr.io:443'],
  spoofedHosts: GHCR_SPOOFS,
  answers: { host: 'ghcr.io', environment: { GH_TOKEN: 'ghp_contract', GITHUB_ACTOR: 'octocat' } },
  // No token anywhere, and no gh to ask.
  fails: {
    host: 'ghcr.io',
    environment: { GH_TOKEN: undefined, GITHUB_TOKEN: undefined, PATH: '' },
    outcome: /no GitHub token for ghcr\.io/,
  },
});

/** A fake `gh` on PATH that prints `token` (or fails), with nothing else on PATH. */
function fakeGh(token: string | undefined): string {
  const dir = join(scratch, `gh-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'gh'),
    token === undefined ? '#!/bin/sh\necho "no oauth token" >&2\nexit 1\n' : `#!/bin/sh\necho "${token}"\n`,
  );
  chmodSync(join(dir, 'gh'), 0o755);
  return dir;
}

describe('ghcr provider', () => {
  it('matches ghcr.io exactly, on the standard port', () => {
    expect(isGhcr(parseRegistry('ghcr.io'))).toBe(true);
    for (const spoof of GHCR_SPOOFS) {
      let identity;
      try {
        identity = parseRegistry(spoof);
      } catch {
        continue; // refused before any matcher
      }
      expect(isGhcr(identity), spoof).toBe(false);
    }
  });

  it('takes the token from the route secret, then GH_TOKEN, GITHUB_TOKEN, then gh', async () => {
    const provider = createGhcrProvider();
    process.env.GH_TOKEN = 'from-gh-token';
    process.env.GITHUB_TOKEN = 'from-github-token';
    const secretContext = testContext({ tokenSecret: '$GHCR_PAT', username: 'octocat' }, { GHCR_PAT: 'from-secret' });
    expect(await provider.get(parseRegistry('ghcr.io'), secretContext)).toEqual({
      username: 'octocat',
      secret: 'from-secret',
    });
    expect((await provider.get(parseRegistry('ghcr.io'), testContext()))?.secret).toBe('from-gh-token');
    delete process.env.GH_TOKEN;
    expect((await tokenFromEnvironmentOrGh()).origin).toBe('GITHUB_TOKEN');
    delete process.env.GITHUB_TOKEN;
    process.env.PATH = fakeGh('gho_from_cli');
    expect(await tokenFromEnvironmentOrGh()).toEqual({ token: 'gho_from_cli', origin: 'gh' });
  });

  it('without any token source: one error naming the three ways', async () => {
    delete process.env.GH_TOKEN;
    delete process.env.GITHUB_TOKEN;
    process.env.PATH = join(scratch, 'nothing-here');
    await expect(createGhcrProvider().get(parseRegistry('ghcr.io'), testContext())).rejects.toThrow(
      /no GitHub token for ghcr\.io: give the registries entry "tokenSecret".*set GH_TOKEN or GITHUB_TOKEN.*gh auth login/,
    );
    process.env.PATH = fakeGh(undefined);
    await expect(tokenFromEnvironmentOrGh()).rejects.toThrow(/the GitHub CLI has no token for github\.com/);
  });

  it('sends the route username, else GITHUB_ACTOR, else the GitHub CLI login, read locally', async () => {
    process.env.GH_TOKEN = 't';
    const configDir = join(scratch, 'gh-config');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(
      join(configDir, 'hosts.yml'),
      'enterprise.example:\n    user: someone-else\ngithub.com:\n    git_protocol: https\n    user: mona\n',
    );
    process.env.GH_CONFIG_DIR = configDir;
    expect(await ghLogin()).toBe('mona');
    const provider = createGhcrProvider();
    expect((await provider.get(parseRegistry('ghcr.io'), testContext()))?.username).toBe('mona');
    process.env.GITHUB_ACTOR = 'actions-user';
    expect((await provider.get(parseRegistry('ghcr.io'), testContext()))?.username).toBe('actions-user');
    expect((await provider.get(parseRegistry('ghcr.io'), testContext({ username: 'route-user' })))?.username).toBe(
      'route-user',
    );
  });

  it('keeps a token for 5 minutes, per token source', () => {
    const provider = createGhcrProvider();
    expect(provider.cachePolicy?.keepSeconds?.({})).toBe(300);
    expect(provider.cachePolicy?.identity?.({ tokenSecret: '$A' })).not.toBe(provider.cachePolicy?.identity?.({}));
  });
});
