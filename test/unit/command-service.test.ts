import { describe, expect, it } from 'vitest';
import { composeRouter } from '../../src/compose.js';
import { parseConfig } from '../../src/core/config.js';
import { parseRegistry } from '../../src/core/registry/identity.js';
import {
  checkRoutes,
  explainRoute,
  loginTarget,
  logout,
  providerSummaries,
  storeLogin,
} from '../../src/service/command-service.js';
import { memorySecretStore } from '../support/memory-secret-store.js';

/** What the management commands ask of the routes, against the real router of a parsed configuration. */
const routesFor = async (registries: Record<string, unknown>) => {
  const config = parseConfig({ registries }, 'config.json');
  const store = memorySecretStore();
  return { config, store, router: await composeRouter({ config, store }) };
};
const quiet = { notice: () => undefined };

describe('the command service', () => {
  it('explains a route: the entry, the provider, secret references by name only, the cached row', async () => {
    const { router } = await routesFor({
      'registry.example': { username: 'ci', password: '$REG_TOKEN' },
    });
    const rows = [
      {
        provider: 'static',
        identity: 'ci',
        registry: 'registry.example',
        fetchedAt: 'a',
        refreshAt: 'b',
        expiresAt: 'c',
      },
    ];
    const route = explainRoute(router, parseRegistry('https://Registry.Example/v2/'), rows);
    expect(route.because).toBe('the registries entry "registry.example"');
    expect(route.provider.name).toBe('static');
    expect(route.shownOptions).toContain('password=$REG_TOKEN (secret REG_TOKEN, not shown)');
    expect(route.cached).toEqual(rows[0]);
    const elsewhere = explainRoute(router, parseRegistry('other.example'), undefined);
    expect(elsewhere.reason).toEqual({ kind: 'fallback' });
    expect(elsewhere.cached).toBeUndefined();
    // A look-alike of an ECR host is not ECR's.
    const spoof = explainRoute(router, parseRegistry('1.dkr.ecr.us-east-1.amazonaws.com.attacker.example'), []);
    expect(spoof.provider.name).toBe('keychain');
  });

  it('lists providers in routing order, the keychain last', async () => {
    const { router } = await routesFor({});
    const names = providerSummaries(router).map((provider) => provider.name);
    expect(names.at(-1)).toBe('keychain');
    expect(names).toContain('ecr');
    const ecr = providerSummaries(router).find((provider) => provider.name === 'ecr')!;
    expect(ecr.podIdentityAnnotations).toContain('eks.amazonaws.com/role-arn');
  });

  it('logs in where the route stores, not where its provider mints; logout tells removed from nothing stored', async () => {
    const { router, store } = await routesFor({});
    expect(loginTarget(router, parseRegistry('123456789012.dkr.ecr.us-east-1.amazonaws.com'))).toEqual({
      stored: false,
      provider: 'ecr',
    });
    expect(loginTarget(router, parseRegistry('registry.example:5000'))).toEqual({ stored: true });
    await storeLogin(router, { ServerURL: 'registry.example:5000', Username: 'u', Secret: 'p' }, quiet);
    expect(await router.get('registry.example:5000', quiet)).toMatchObject({ username: 'u', secret: 'p' });
    expect(await logout(router, 'https://registry.example:5000/v1/', quiet)).toEqual({ kind: 'removed' });
    expect(store.items.size).toBe(0);
    expect(await logout(router, 'registry.example:5000', quiet)).toEqual({ kind: 'nothing-stored' });
    expect(await logout(router, '123456789012.dkr.ecr.us-east-1.amazonaws.com', quiet)).toEqual({
      kind: 'minted',
      provider: 'ecr',
    });
  });

  it('checks each route as its provider diagnoses it, a glob on first use, a CI identity by what this job has', async () => {
    const { router, config } = await routesFor({
      'registry.example': { username: 'ci', password: '$REG_TOKEN' },
      '*.corp.example': { provider: 'keychain' },
      '123456789012.dkr.ecr.us-east-1.amazonaws.com': {
        provider: 'ecr',
        roleArn: 'arn:aws:iam::123456789012:role/ci',
        jobIdentity: { source: 'gitlab', variable: 'NO_SUCH_TOKEN_VARIABLE' },
      },
    });
    const checks = await checkRoutes(router, config, 5_000);
    expect(checks.find((check) => check.name.endsWith('*.corp.example'))).toMatchObject({ ok: true });
    expect(checks.find((check) => check.name.startsWith('ecr for'))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/not available here: NO_SUCH_TOKEN_VARIABLE is not set/),
    });
    expect(checks).toHaveLength(3);
  });
});
