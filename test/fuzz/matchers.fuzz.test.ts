import { REGISTRY_SERVICE } from '../../src/core/store/secret-store.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeychainProvider } from '../../plugins/keychain/index.js';
import { builtinProviders } from '../../src/compose.js';
import { parseConfig } from '../../src/core/config.js';
import { loadProviderSet } from '../../src/routing/provider-set.js';
import { type RegistryIdentity, parseRegistry } from '../../src/core/registry/identity.js';
import { createRouter } from '../../src/routing/router.js';
import { memorySecretStore } from '../support/memory-secret-store.js';
import { dnsLabel } from './arbitraries.js';

/** The suffixes each provider's domains end with; a host that ends with none of them is outside its domains. */
const DOMAINS = {
  ecr: [
    '.amazonaws.com',
    '.amazonaws.com.cn',
    '.amazonaws.eu',
    '.on.aws',
    '.on.amazonwebservices.com.cn',
    '.sc2s.sgov.gov',
    '.c2s.ic.gov',
    '.cloud.adc-e.uk',
    '.csp.hci.ic.gov',
    'public.ecr.aws',
  ],
  gar: ['gcr.io', '.pkg.dev'],
  ghcr: ['ghcr.io'],
  acr: ['.azurecr.io', '.azurecr.cn', '.azurecr.us'],
};
const REAL = [
  '123456789012.dkr.ecr.us-east-1.amazonaws.com',
  '123456789012.dkr-ecr.eu-west-1.on.aws',
  'public.ecr.aws',
  'gcr.io',
  'eu.gcr.io',
  'us-docker.pkg.dev',
  'docker.us-central1.rep.pkg.dev',
  'ghcr.io',
  'myregistry.azurecr.io',
  'registry1.azurecr.cn',
];
const TLDS = ['example', 'com', 'io', 'net', 'aws', 'dev', 'cn', 'gov', 'attacker'];

/** Hosts outside every provider's domains, many of them built around real provider hosts. */
const foreignHost = fc.oneof(
  fc
    .tuple(fc.array(dnsLabel, { minLength: 1, maxLength: 4 }), fc.constantFrom(...TLDS))
    .map(([labels, tld]) => [...labels, tld].join('.')),
  fc
    .tuple(fc.constantFrom(...REAL), fc.array(dnsLabel, { minLength: 1, maxLength: 3 }), fc.constantFrom(...TLDS))
    .map(([real, labels, tld]) => `${real}.${[...labels, tld].join('.')}`),
  fc
    .tuple(fc.constantFrom(...REAL), dnsLabel, fc.constantFrom(...TLDS))
    .map(([real, glue, tld]) => `${real}${glue}.${tld}`),
  fc
    .tuple(
      fc.constantFrom(...REAL),
      fc.integer({ min: 1, max: 65535 }).filter((port) => port !== 443),
    )
    .map(([real, port]) => `${real}:${port}`),
);

const outside = (registry: RegistryIdentity, suffixes: readonly string[]) =>
  registry.port !== undefined ||
  !suffixes.some((suffix) => registry.host === suffix.replace(/^\./, '') || registry.host.endsWith(suffix));

describe('no generated host outside a provider’s domains ever routes to it', async () => {
  const set = await loadProviderSet(
    parseConfig({}, '/fuzz.json'),
    createKeychainProvider({ store: memorySecretStore(), service: REGISTRY_SERVICE }),
    builtinProviders(),
  );
  const router = createRouter(set);

  it.each(Object.entries(DOMAINS))('%s', (name, suffixes) => {
    const provider = set.byName.get(name)!;
    let tried = 0;
    fc.assert(
      fc.property(foreignHost, (host) => {
        let registry: RegistryIdentity;
        try {
          registry = parseRegistry(host);
        } catch {
          return; // refused before any matcher
        }
        if (!outside(registry, suffixes)) return;
        tried += 1;
        expect(provider.matches(registry), host).toBe(false);
        expect(router.decide(registry).provider.name, host).not.toBe(name);
      }),
      { numRuns: 5000 },
    );
    expect(tried).toBeGreaterThan(2000);
  });
});
