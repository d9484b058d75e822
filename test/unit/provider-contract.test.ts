import { describe, expect, it } from 'vitest';
import { CredrelayError, type Provider } from '../../src/plugin-api.js';
import { type ProviderContractOptions, providerContractChecks } from '../../src/testing/provider-contract.js';

/**
 * The contract is only worth running if it fails for a provider that breaks it: each broken provider below breaks
 * one promise, and the check for that promise must throw, while a sound provider passes every check.
 */
const sound = (overrides: Partial<Provider> = {}): Provider => ({
  name: 'sound',
  matches: (registry) => registry.host === 'registry.sound.example' && registry.port === undefined,
  async get(registry, context) {
    if (registry.host !== 'registry.sound.example') return undefined;
    return { username: 'u', secret: await context.resolveSecret('TOKEN') };
  },
  ...overrides,
});

const contractFor = (
  provider: Provider,
  overrides: Partial<ProviderContractOptions> = {},
): ProviderContractOptions => ({
  create: () => provider,
  ownHosts: ['registry.sound.example', 'https://registry.sound.example/v2/'],
  spoofedHosts: ['registry.sound.example.attacker.example', 'sound.example'],
  answers: { host: 'registry.sound.example', secrets: { TOKEN: 'contract-token' } },
  fails: { host: 'registry.sound.example', outcome: /secret TOKEN is not set/ },
  ...overrides,
});

/** The check with this title, run against the provider: whether it threw. */
async function breaks(title: string, contract: ProviderContractOptions): Promise<boolean> {
  const check = providerContractChecks(contract).find((candidate) => candidate.title.startsWith(title));
  if (check === undefined) throw new Error(`no check "${title}"`);
  return check.run().then(
    () => false,
    () => true,
  );
}

describe('the provider contract', () => {
  it('passes a provider that keeps every promise', async () => {
    for (const check of providerContractChecks(contractFor(sound())).filter((candidate) => candidate.applies))
      await expect(check.run(), check.title).resolves.toBeUndefined();
  });

  it('fails a matcher that takes a look-alike host', async () => {
    const loose = sound({ matches: (registry) => registry.host.startsWith('registry.sound.example') });
    expect(await breaks('never matches a spoofed host', contractFor(loose))).toBe(true);
  });

  it('fails a matcher that keeps state between calls', async () => {
    let calls = 0;
    const stateful = sound({ matches: (registry) => registry.host === 'registry.sound.example' && calls++ < 3 });
    expect(await breaks('matches as a function of the identity alone', contractFor(stateful))).toBe(true);
  });

  it('fails a provider that throws a bare Error, or answers where it says it fails', async () => {
    const bare = sound({
      get: async () => {
        throw new Error('token=hunter2 leaked in a message nobody vetted');
      },
    });
    expect(await breaks('fails as it says', contractFor(bare))).toBe(true);
    const answers = sound({ get: async () => ({ username: 'u', secret: 's' }) });
    expect(await breaks('fails as it says', contractFor(answers))).toBe(true);
    const wrongWords = sound({
      get: async () => {
        throw new CredrelayError('PROVIDER_FAILED', 'something went wrong');
      },
    });
    expect(await breaks('fails as it says', contractFor(wrongWords))).toBe(true);
  });

  it('fails a provider that answers its sample with an empty secret, or a bad name', async () => {
    const empty = sound({ get: async () => ({ username: 'u', secret: '' }) });
    expect(await breaks('answers its sample registry', contractFor(empty))).toBe(true);
    expect(await breaks('has a valid name', contractFor(sound({ name: 'Not A Name!' })))).toBe(true);
  });
});
