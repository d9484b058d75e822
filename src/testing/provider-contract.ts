/**
 * The contract every provider runs, built-in or third-party (`import { runProviderContract } from 'credrelay/testing'`
 * in a vitest suite). It checks the shape of the provider, that its matcher accepts its real hosts and refuses spoofed
 * ones (including spoofs derived from every real host), and that `get` answers with a well-formed credential,
 * `undefined`, or a CredrelayError: never a bare Error whose text could say anything.
 */
import { describe, expect, it } from 'vitest';
import {
  CredrelayError,
  PROVIDER_NAME,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  parseRegistry,
  silentLogger,
} from '../plugin-api.js';

export interface ProviderContractOptions {
  readonly create: () => Provider | Promise<Provider>;
  /** Hosts the provider's own matcher must accept. Empty for a provider that serves only configured routes. */
  readonly ownHosts: readonly string[];
  /** Server strings that must never reach the provider: either they do not parse, or the matcher refuses them. */
  readonly spoofedHosts: readonly string[];
  /**
   * The fallback that takes every registry (the keychain): it keys what it holds by exact identity, so it has no
   * spoofs to refuse; the contract checks that it matches everything instead.
   */
  readonly matchesEverything?: boolean;
  /**
   * A registry the provider answers with a credential, and what it needs for that: route options, named secrets,
   * environment variables (set for the call, then restored). Against a local endpoint, a fake, or a keychain.
   */
  readonly answers: {
    readonly host: string;
    readonly options?: Readonly<Record<string, unknown>>;
    readonly secrets?: Readonly<Record<string, string>>;
    readonly environment?: Readonly<Record<string, string>>;
  };
}

/** A ProviderContext for tests: the given options and secrets, notices collected, a logger that writes nothing. */
export function testContext(
  options: Readonly<Record<string, unknown>> = {},
  secrets: Readonly<Record<string, string>> = {},
): ProviderContext & { notices: string[] } {
  const notices: string[] = [];
  return {
    options,
    notices,
    notice: (line) => notices.push(line),
    logger: silentLogger,
    async resolveSecret(name) {
      const value = secrets[name];
      if (value === undefined) throw new CredrelayError('SECRET_MISSING', `secret ${name} is not set`);
      return value;
    },
  };
}

/** Spoofs built from a real host name: it as a subdomain, as a path, behind userinfo, glued to another domain. */
export const derivedSpoofs = (host: string): string[] => [
  `${host}.attacker.example`,
  `${host}attacker.example`,
  `attacker.example/${host}`,
  `https://attacker.example/${host}`,
  `https://${host}@attacker.example`,
  `${host}@attacker.example`,
  `${host}.`,
  `ftp://${host}`,
  `${host} x`,
];

const tryParse = (serverURL: string): RegistryIdentity | undefined => {
  try {
    return parseRegistry(serverURL);
  } catch {
    return undefined;
  }
};

export function runProviderContract(name: string, contract: ProviderContractOptions): void {
  describe(`provider contract: ${name}`, () => {
    it('has a valid name, and well-formed optional capabilities', async () => {
      const provider = await contract.create();
      expect(provider.name).toMatch(PROVIDER_NAME);
      if (provider.about !== undefined) {
        expect(provider.about.description.length).toBeGreaterThan(0);
        expect(provider.about.hostPatterns.length).toBeGreaterThan(0);
      }
      for (const spec of Object.values(provider.routes?.options ?? {})) {
        expect(['string', 'number', 'boolean']).toContain(spec.type);
        expect(spec.description.length).toBeGreaterThan(0);
      }
      if (provider.storage !== undefined) {
        for (const method of ['store', 'erase', 'list'] as const)
          expect(typeof provider.storage[method]).toBe('function');
      }
    });

    it.runIf(contract.ownHosts.length > 0)('matches its own hosts', async () => {
      const provider = await contract.create();
      for (const host of contract.ownHosts) expect(provider.matches(parseRegistry(host)), host).toBe(true);
    });

    it.runIf(contract.matchesEverything === true)('matches every registry (the fallback)', async () => {
      const provider = await contract.create();
      for (const host of [...contract.ownHosts, 'registry.example', 'localhost:5000', '[::1]:5000', 'docker.io'])
        expect(provider.matches(parseRegistry(host)), host).toBe(true);
    });

    it.runIf(contract.matchesEverything !== true)(
      'never matches a spoofed host, given or derived from its own',
      async () => {
        const provider = await contract.create();
        const spoofs = [
          ...contract.spoofedHosts,
          ...contract.ownHosts.map((host) => parseRegistry(host).host).flatMap(derivedSpoofs),
        ];
        for (const spoof of spoofs) {
          const identity = tryParse(spoof);
          if (identity !== undefined) expect(provider.matches(identity), spoof).toBe(false);
        }
      },
    );

    it('matches deterministically, as a pure function of the identity', async () => {
      const provider = await contract.create();
      for (const host of [...contract.ownHosts, 'registry.example', 'localhost:5000', '[::1]:5000', 'docker.io']) {
        const identity = parseRegistry(host);
        expect(provider.matches(identity)).toBe(provider.matches(parseRegistry(host)));
      }
    });

    it('answers its sample registry with a well-formed credential', async () => {
      const provider = await contract.create();
      const { host, options, secrets, environment } = contract.answers;
      const registry = parseRegistry(host);
      const credential = await withEnvironment(environment ?? {}, () =>
        provider.get(registry, testContext(options, secrets)),
      );
      expect(credential, `${provider.name} answered nothing for ${host}`).toBeDefined();
      expect(typeof credential?.username).toBe('string');
      expect(credential?.username.length).toBeGreaterThan(0);
      expect(typeof credential?.secret).toBe('string');
      expect(credential?.secret.length).toBeGreaterThan(0);
      if (credential?.expiresAt !== undefined) expect(credential.expiresAt).toBeInstanceOf(Date);
    });

    it('fails only with a CredrelayError, whose message reaches the user', async () => {
      const provider = await contract.create();
      // The sample registry with none of what it needs: nothing, or a CredrelayError, never a bare Error.
      try {
        await provider.get(parseRegistry(contract.answers.host), testContext(contract.answers.options, {}));
      } catch (error) {
        expect(error).toBeInstanceOf(CredrelayError);
      }
    });
  });
}

async function withEnvironment<T>(variables: Readonly<Record<string, string>>, run: () => Promise<T>): Promise<T> {
  const saved = Object.keys(variables).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, variables);
  try {
    return await run();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
