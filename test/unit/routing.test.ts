import { REGISTRY_SERVICE } from '../../src/core/store/secret-store.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKeychainProvider } from '../../plugins/keychain/index.js';
import { builtinProviders } from '../../src/compose.js';
import { parseConfig } from '../../src/core/config.js';
import type { PodIdentity, Provider } from '../../src/core/provider.js';
import { TokenCache } from '../../src/cache/token-cache.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadProviderSet } from '../../src/routing/provider-set.js';
import { parseRegistry } from '../../src/core/registry/identity.js';
import { createRouter } from '../../src/routing/router.js';
import { compareSpecificity, globMatches, parseRegistryPattern } from '../../src/core/registry/registry-pattern.js';
import { memorySecretStore } from '../support/memory-secret-store.js';
import { makeTempDir } from '../support/temp.js';

const scratch = makeTempDir('routing');
afterAll(() => scratch.remove());

describe('registry patterns', () => {
  const glob = (key: string) => {
    const pattern = parseRegistryPattern(key);
    if (pattern.kind !== 'glob') throw new Error('expected a glob');
    return pattern;
  };

  it('parses exact keys with the identity rules', () => {
    expect(parseRegistryPattern('https://Registry.Example:443/v2/')).toMatchObject({
      kind: 'exact',
      key: 'registry.example',
    });
    expect(parseRegistryPattern('https://index.docker.io/v1/')).toMatchObject({ kind: 'exact', key: 'docker.io' });
  });

  it.each([
    ['*.corp.example', 'a.corp.example', true],
    ['*.corp.example', 'A.Corp.Example', true],
    ['*.corp.example', 'corp.example', false],
    ['*.corp.example', 'a.b.corp.example', false],
    ['*.corp.example', 'a.corp.example.attacker.example', false],
    ['*.corp.example', 'a.corp.example:5000', false],
    ['*.corp.example:5000', 'a.corp.example:5000', true],
    ['*.corp.example:5000', 'a.corp.example', false],
    ['*.corp.example:443', 'a.corp.example', true],
    ['a.*.example', 'a.b.example', true],
    ['a.*.example', 'b.b.example', false],
    ['*.*.corp.example', 'a.b.corp.example', true],
  ])('%s on %s -> %s', (key, host, expected) => {
    expect(globMatches(glob(key), parseRegistry(host))).toBe(expected);
  });

  it.each([
    '*',
    '*.*',
    'a*.example',
    '*a.example',
    'user@*.corp.example',
    '*.corp.example:99999',
    '*.corp..example',
    '*.corp_x.example',
  ])('rejects the glob %j with the fix', (key) => {
    expect(() => parseRegistryPattern(key)).toThrowError(
      /is not a registry glob: .*write one like "\*\.corp\.example"/,
    );
  });

  it('orders globs from most to least specific', () => {
    const sorted = ['*.*.example', '*.b.example', 'a.*.example', '*.a.b.example']
      .map(glob)
      .sort(compareSpecificity)
      .map((p) => p.key);
    expect(sorted).toEqual(['*.a.b.example', '*.b.example', 'a.*.example', '*.*.example']);
  });
});

const fakeProvider = (name: string, hosts: string[] = []): Provider => ({
  name,
  about: { description: `fake ${name}`, hostPatterns: hosts.length ? hosts : ['configured routes only'] },
  routes: { options: { flavour: { type: 'string', description: 'a flavour' } } },
  matches: (registry) => hosts.includes(registry.key),
  get: async (_registry, context) => ({ username: name, secret: `${name}:${JSON.stringify(context.options)}` }),
});

async function routerFor(
  document: unknown,
  providers: Provider[] = [],
  cache?: TokenCache,
  providerDeadlineMs?: number,
) {
  const config = parseConfig(document, join(scratch.path, 'config.json'));
  const set = await loadProviderSet(
    config,
    createKeychainProvider({ store: memorySecretStore(), service: REGISTRY_SERVICE }),
    providers,
  );
  return createRouter(set, {
    ...(cache === undefined ? {} : { cache }),
    ...(providerDeadlineMs === undefined ? {} : { providerDeadlineMs }),
  });
}

describe('a provider that never answers', () => {
  it('fails its callers at the deadline and leaves the route to the next request', async () => {
    const calls: string[] = [];
    let stuck = true;
    const provider: Provider = {
      ...fakeProvider('sticky'),
      get: (registry) => {
        calls.push(registry.key);
        // The first run never settles, as a wrapped program that never exits would.
        if (stuck) return new Promise(() => undefined);
        return Promise.resolve({ username: 'u', secret: 'fresh', expiresAt: new Date(Date.now() + 3600_000) });
      },
    };
    const cache = new TokenCache();
    const router = await routerFor({ registries: { 'r.example': { provider: 'sticky' } } }, [provider], cache, 200);
    const context = { notice: () => undefined };
    const joined = await Promise.allSettled([router.get('r.example', context), router.get('r.example', context)]);
    expect(joined.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((joined[0] as PromiseRejectedResult).reason.message)).toMatch(
      /^the sticky provider did not answer for r\.example within 0\.2 s/,
    );
    expect(calls).toEqual(['r.example']); // the two callers shared one run
    stuck = false;
    await expect(router.get('r.example', context)).resolves.toMatchObject({ secret: 'fresh' });
    expect(calls).toEqual(['r.example', 'r.example']);
    cache.close();
  });
});

describe('list', () => {
  it('names every registry an entry routes by exact host, with the user name the route knows, and reads no secret', async () => {
    // No secret resolver is given: the default one throws, so a list that read a secret would fail.
    const router = await routerFor(
      {
        registries: {
          '127.0.0.1:5000': { provider: 'static', username: 'ci', password: '$REG_TOKEN' },
          'docker.io': { provider: 'static', username: '$HUB_USER', password: '$HUB_TOKEN' },
          '123456789012.dkr.ecr.us-east-1.amazonaws.com': { provider: 'ecr' },
          '*.corp.example': { provider: 'static', username: 'glob', password: '$GLOB_TOKEN' },
          'kept.example': { provider: 'keychain' },
        },
      },
      builtinProviders().filter((provider) => ['static', 'ecr'].includes(provider.name)),
    );
    const listed = await router.list({
      notice: () => undefined,
    });
    expect(Object.fromEntries(listed)).toEqual({
      '127.0.0.1:5000': 'ci',
      'https://index.docker.io/v1/': '',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com': 'AWS',
    });
  });
});

describe('routing decisions', () => {
  it('prefers an exact entry, then the most specific glob, then matchers, then the keychain', async () => {
    const router = await routerFor(
      {
        registries: {
          'a.corp.example': { provider: 'alpha' },
          '*.corp.example': { provider: 'beta', flavour: 'glob' },
          '*.*.example': { provider: 'alpha', flavour: 'wide' },
          'owned.example': { provider: 'keychain' },
        },
      },
      [fakeProvider('alpha'), fakeProvider('beta', ['owned.example', 'matched.example'])],
    );
    const decide = (host: string) => {
      const decision = router.decide(parseRegistry(host));
      return [
        decision.provider.name,
        decision.reason.kind,
        decision.reason.kind === 'registries' ? decision.reason.key : '',
      ];
    };
    expect(decide('https://A.corp.example/')).toEqual(['alpha', 'registries', 'a.corp.example']);
    expect(decide('b.corp.example')).toEqual(['beta', 'registries', '*.corp.example']);
    expect(decide('b.other.example')).toEqual(['alpha', 'registries', '*.*.example']);
    expect(decide('owned.example')).toEqual(['keychain', 'registries', 'owned.example']);
    expect(decide('matched.example')).toEqual(['beta', 'matcher', '']);
    expect(decide('elsewhere.example:5000')).toEqual(['keychain', 'fallback', '']);
  });

  it('hands the entry options to the provider', async () => {
    const router = await routerFor({ registries: { '*.corp.example': { provider: 'alpha', flavour: 'x' } } }, [
      fakeProvider('alpha'),
    ]);
    const context = { notice: () => undefined };
    expect(await router.get('r.corp.example', context)).toEqual({ username: 'alpha', secret: 'alpha:{"flavour":"x"}' });
  });

  it('turns store and erase for a provider without storage into a notice, not a failure', async () => {
    const router = await routerFor({}, [fakeProvider('beta', ['minted.example'])]);
    const notices: string[] = [];
    await router.store(
      { ServerURL: 'minted.example', Username: 'u', Secret: 's' },
      { notice: (line) => notices.push(line) },
    );
    await router.erase('minted.example', { notice: (line) => notices.push(line) });
    expect(notices).toEqual([
      expect.stringMatching(
        /minted\.example is served by the beta provider, which mints its own credentials; nothing was stored/,
      ),
      expect.stringMatching(/nothing is stored to erase/),
    ]);
    expect(await router.list({ notice: () => undefined })).toEqual(new Map());
  });
});

describe('configuration of routes and plugins', () => {
  const builtins = builtinProviders();
  const load = (document: unknown) => routerFor(document, builtins);

  it.each([
    [
      { registries: { 'r.example': { provider: 'nope' } } },
      /registries "r\.example" names provider "nope", which does not exist; known providers: keychain, ecr/,
    ],
    [{ registries: { 'r.example': {} } }, /registries "r\.example" needs "provider"/],
    [{ registries: { 'r.example': 'ecr' } }, /registries "r\.example" must be an object/],
    [
      { registries: { 'ftp://r.example': { provider: 'keychain' } } },
      /"ftp:\/\/r\.example" is not a registry: .*scheme/,
    ],
    [
      { registries: { 'r.example': { provider: 'keychain' }, 'https://r.example/': { provider: 'keychain' } } },
      /names the same registry as "r\.example"/,
    ],
    [
      { registries: { 'r.example': { provider: 'keychain', profile: 'x' } } },
      /option "profile" is not known to provider "keychain"; it takes no options/,
    ],
    [
      { registries: { '123456789012.dkr.ecr.us-east-1.amazonaws.com': { provider: 'ecr', profil: 'x' } } },
      /option "profil" is not known to provider "ecr"; it accepts profile, roleArn/,
    ],
    [
      { registries: { '123456789012.dkr.ecr.us-east-1.amazonaws.com': { provider: 'ecr', region: 'mars' } } },
      /option "region" must be an AWS region such as us-east-1/,
    ],
    [
      { registries: { 'registry.corp.example': { provider: 'ecr', region: 'us-east-1' } } },
      /is not an ECR host, so the ecr provider needs "registryId"/,
    ],
    [
      { registries: { '123456789012.dkr.ecr.us-east-1.amazonaws.com': { provider: 'ecr', externalId: 'abc' } } },
      /option "externalId" needs "roleArn"/,
    ],
    [{ plugins: ['./missing-plugin.js'] }, /plugin "\.\/missing-plugin\.js" could not be loaded .*check the path/],
    [{ plugins: 'x' }, /"plugins" must be a list/],
  ])('rejects %j, naming the key and the fix', async (document, message) => {
    await expect(load(document)).rejects.toThrowError(message);
  });

  it('accepts a custom domain that fronts an ECR account', async () => {
    const router = await load({
      registries: { 'registry.corp.example': { provider: 'ecr', registryId: '123456789012', region: 'eu-west-1' } },
    });
    expect(router.decide(parseRegistry('registry.corp.example')).provider.name).toBe('ecr');
  });

  it('rejects a plugin that is not a provider, and one that reuses a name', async () => {
    const notProvider = join(scratch.path, 'not-provider.mjs');
    writeFileSync(notProvider, 'export default { hello: 1 };');
    await expect(load({ plugins: [notProvider] })).rejects.toThrowError(/its name must be lower-case/);
    const clash = join(scratch.path, 'clash.mjs');
    writeFileSync(
      clash,
      "export default { name: 'ecr', description: 'x', hostPatterns: ['x'], matches: () => false, get: async () => undefined };",
    );
    await expect(load({ plugins: [clash] })).rejects.toThrowError(/two providers are named "ecr"/);
  });
});

describe('redaction', () => {
  it('masks every secret a provider returns, also one a background refresh fetched that no caller saw yet', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    let minted = 0;
    const provider: Provider = {
      ...fakeProvider('minter', ['minted.example']),
      get: async () => ({
        username: 'u',
        secret: `minted-secret-${(minted += 1)}`,
        expiresAt: new Date(now + 3600_000),
      }),
    };
    const redacted: string[] = [];
    const logger = { ...silentLogger, redact: (secret: string) => void redacted.push(secret) };
    const config = parseConfig({}, join(scratch.path, 'config.json'));
    const set = await loadProviderSet(
      config,
      createKeychainProvider({ store: memorySecretStore(), service: REGISTRY_SERVICE }),
      [provider],
    );
    const cache = new TokenCache({ clock: () => now });
    const router = createRouter(set, { cache, logger });
    const context = { notice: () => undefined };
    expect((await router.credentialFor(parseRegistry('minted.example'), context))?.secret).toBe('minted-secret-1');
    now += 40 * 60_000; // past the refresh point: the cached token is served while a new one is fetched
    expect((await router.credentialFor(parseRegistry('minted.example'), context))?.secret).toBe('minted-secret-1');
    // The refresh runs behind the answer: wait for what it does, the new secret redacted.
    await vi.waitFor(() => expect(redacted).toContain('minted-secret-2'));
    expect(minted).toBe(2);
    expect(redacted).toEqual(expect.arrayContaining(['minted-secret-1', 'minted-secret-2']));
    cache.close();
  });
});

describe('pod identity (kubelet mode)', () => {
  const pod = (
    namespace: string,
    name: string,
    token: string,
    annotations: Record<string, string> = {},
  ): PodIdentity => ({
    token,
    annotations,
    namespace,
    serviceAccount: name,
  });
  /** A provider that acts as a pod when the pod's service account is annotated with a role. */
  const podAware = () => {
    const asked: Array<string | undefined> = [];
    const provider: Provider = {
      ...fakeProvider('cloud', ['cloud.example', 'other.example']),
      podIdentity: {
        uses: (candidate) => candidate.annotations['cloud.example/role'] !== undefined,
        annotations: () => ['cloud.example/role'],
      },
      async get(_registry, context) {
        const who = context.podIdentity
          ? `${context.podIdentity.namespace}/${context.podIdentity.serviceAccount}`
          : undefined;
        asked.push(who);
        return {
          username: 'cloud',
          secret: `token-of-${who ?? 'node'}-${asked.length}`,
          expiresAt: new Date(Date.now() + 3600_000),
        };
      },
    };
    return { provider, asked };
  };
  const context = { notice: () => undefined };
  const registry = parseRegistry('cloud.example');
  const roleA = { 'cloud.example/role': 'role-a' };

  it('acts as the pod only when the provider can, and keeps each pod token apart in the cache', async () => {
    const { provider, asked } = podAware();
    const cache = new TokenCache();
    const router = await routerFor({}, [provider], cache);
    const a = pod('team-a', 'puller', 'token-a', roleA);
    const results = await Promise.all([
      router.credentialFor(registry, context, a),
      router.credentialFor(registry, context, a),
      router.credentialFor(registry, context, pod('team-b', 'puller', 'token-b', { 'cloud.example/role': 'role-b' })),
      router.credentialFor(registry, context, pod('team-c', 'plain', 'token-c')), // no role: the node
      router.credentialFor(registry, context),
    ]);
    expect(results.map((credential) => credential?.secret.replace(/-\d+$/, ''))).toEqual([
      'token-of-team-a/puller',
      'token-of-team-a/puller',
      'token-of-team-b/puller',
      'token-of-node',
      'token-of-node',
    ]);
    expect(asked.filter((who) => who !== undefined).sort()).toEqual(['team-a/puller', 'team-b/puller']);
    expect(asked.filter((who) => who === undefined)).toHaveLength(1); // the node's token is shared, as before
    // The same service account with another token (or a made-up one) is not served the cached credential.
    const forged = await router.credentialFor(registry, context, pod('team-a', 'puller', 'token-forged', roleA));
    expect(forged?.secret).not.toBe(results[0]?.secret);
    // Cache keys name the service account; never the token or the annotations.
    const identities = cache.list().map((entry) => entry.identity);
    expect(identities).toEqual(
      expect.arrayContaining([expect.stringMatching(/^.* pod team-a\/puller sha256:[0-9a-f]{16}$/)]),
    );
    expect(JSON.stringify(identities)).not.toMatch(/token-a|role-a/);
    cache.close();
  });

  it('"podIdentity": "required" fails without a usable pod, "off" always answers as the node', async () => {
    const { provider, asked } = podAware();
    const router = await routerFor(
      {
        registries: {
          'cloud.example': { provider: 'cloud', podIdentity: 'required' },
          'other.example': { provider: 'cloud', podIdentity: 'off' },
        },
      },
      [provider],
    );
    await expect(router.credentialFor(registry, context)).rejects.toMatchObject({
      code: 'POD_IDENTITY_REQUIRED',
      message: expect.stringMatching(/no service-account token came with the request/),
    });
    await expect(router.get('cloud.example', context)).rejects.toMatchObject({ code: 'POD_IDENTITY_REQUIRED' });
    await expect(router.credentialFor(registry, context, pod('team-c', 'plain', 'token-c'))).rejects.toThrow(
      /has no identity to act as for service account team-c\/plain: annotate it with cloud\.example\/role, or name one/,
    );
    await router.credentialFor(parseRegistry('other.example'), context, pod('team-a', 'puller', 'token-a', roleA));
    expect(asked).toEqual([undefined]);
  });

  it('refuses "podIdentity" on a provider that cannot act as a pod, and values it does not know', async () => {
    await expect(
      routerFor({ registries: { 'x.example': { provider: 'alpha', podIdentity: 'required' } } }, [
        fakeProvider('alpha'),
      ]),
    ).rejects.toThrow(
      /"podIdentity" is for providers that can act as the pod kubelet pulls for; provider "alpha" cannot/,
    );
    expect(() =>
      parseConfig({ registries: { 'x.example': { provider: 'ecr', podIdentity: 'yes' } } }, '/c.json'),
    ).toThrow(/has "podIdentity" "yes"; it must be one of "auto", "required", "off"/);
  });
});

describe('routes by repository path', () => {
  const pattern = (key: string) => parseRegistryPattern(key);

  it('parses a path after a host or a glob, and leaves Docker API paths alone', () => {
    expect(pattern('us-docker.pkg.dev/team-a')).toMatchObject({
      kind: 'exact',
      key: 'us-docker.pkg.dev/team-a',
      path: ['team-a'],
    });
    expect(pattern('*.pkg.dev/team-a/sub')).toMatchObject({
      kind: 'glob',
      key: '*.pkg.dev/team-a/sub',
      path: ['team-a', 'sub'],
    });
    expect(pattern('registry.example:5000/acme/')).toMatchObject({ key: 'registry.example:5000/acme', path: ['acme'] });
    expect(pattern('https://index.docker.io/v1/')).not.toHaveProperty('path');
    expect(pattern('https://registry.example/v2/')).not.toHaveProperty('path');
    expect(() => pattern('ghcr.io/Acme')).toThrowError(/repository path must be lower-case segments/);
    expect(() => pattern('ghcr.io/acme//x')).toThrowError(/repository path must be lower-case segments/);
  });

  const providers = [fakeProvider('a'), fakeProvider('b'), fakeProvider('host'), fakeProvider('globbed')];
  const document = {
    registries: {
      'us-docker.pkg.dev/team-a': { provider: 'a' },
      'us-docker.pkg.dev/team-a/special': { provider: 'b' },
      '*.pkg.dev/team-b': { provider: 'globbed' },
      'registry.example:5000/acme': { provider: 'a' },
      'both.example': { provider: 'host' },
      'both.example/team-a': { provider: 'a' },
    },
  };
  const repo = (path: string) => path.split('/');

  it.each([
    ['us-docker.pkg.dev', 'team-a/app', 'a'],
    ['us-docker.pkg.dev', 'team-a/special/app', 'b'], // the longest route wins
    ['us-docker.pkg.dev', 'team-a', 'a'],
    ['us-docker.pkg.dev', 'team-ab/app', 'keychain'], // whole segments only
    ['europe-docker.pkg.dev', 'team-b/app', 'globbed'],
    ['us-docker.pkg.dev', 'team-b/app', 'globbed'],
    ['registry.example:5000', 'acme/app', 'a'],
    ['registry.example:5001', 'acme/app', 'keychain'], // the port is part of the host
    ['registry.example', 'acme/app', 'keychain'],
    ['both.example', 'team-a/app', 'a'],
    ['both.example', 'team-c/app', 'host'], // the host route is the default for the rest
  ])('%s %s goes to %s', async (host, path, expected) => {
    const router = await routerFor(document, providers);
    expect(router.decide(parseRegistry(host), repo(path)).provider.name).toBe(expected);
  });

  it("Docker's protocol (a host alone): a host with a host route answers it; one with only path routes is explained", async () => {
    const router = await routerFor(document, providers);
    expect((await router.get('both.example', { notice: () => undefined })).username).toBe('host');
    await expect(router.get('us-docker.pkg.dev', { notice: () => undefined })).rejects.toThrowError(
      /^routes for us-docker\.pkg\.dev differ by repository \(us-docker\.pkg\.dev\/team-a\/special, us-docker\.pkg\.dev\/team-a, \*\.pkg\.dev\/team-b\); Docker asks per registry, not per repository: add a route for the whole registry/,
    );
    // list names no registry that only path routes take
    expect([...(await router.list({ notice: () => undefined })).keys()]).toEqual(['both.example']);
  });
});
