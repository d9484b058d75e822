/**
 * The contract every provider runs, built-in or third-party (`import { runProviderContract } from 'credrelay/testing'`
 * in a vitest suite). It checks the shape of the provider, that its matcher accepts its real hosts and refuses spoofed
 * ones (including spoofs derived from every real host), and that `get` answers with a well-formed credential,
 * `undefined`, or a CredrelayError: never a bare Error whose text could say anything. Every check asserts something
 * (`expect.hasAssertions()`), and each one fails for a provider that breaks it (test/unit/provider-contract.test.ts
 * runs them against broken providers).
 */
import { describe, expect, it } from 'vitest';
import {
  CredrelayError,
  PROVIDER_NAME,
  type PodIdentity,
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
    /** The identity it acts as, for a provider that answers only as a pod or a CI job (their OIDC token). */
    readonly podIdentity?: PodIdentity;
  };
  /**
   * A registry the provider cannot answer, and why: what it lacks (no secret, a variable unset with `undefined`, a
   * pod whose annotation is malformed) and what it must do then: answer nothing (`'nothing'`: Docker carries on
   * anonymously), or throw a CredrelayError whose message matches, so the user reads what failed and what to do.
   * `create` gives the provider for this case when it differs (a fake endpoint that refuses).
   */
  readonly fails: {
    readonly host: string;
    readonly outcome: 'nothing' | RegExp;
    readonly create?: () => Provider | Promise<Provider>;
    readonly options?: Readonly<Record<string, unknown>>;
    readonly secrets?: Readonly<Record<string, string>>;
    readonly environment?: Readonly<Record<string, string | undefined>>;
    readonly podIdentity?: PodIdentity;
  };
}

/** One check of the contract: `run` throws (an assertion) when the provider breaks it. */
export interface ContractCheck {
  readonly title: string;
  /** Whether the check applies to this provider (a fallback has no spoofs to refuse, say). */
  readonly applies: boolean;
  readonly run: () => Promise<void>;
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

const SAMPLE_HOSTS = ['registry.example', 'localhost:5000', '[::1]:5000', 'docker.io'];

/** The contract's checks, each runnable on its own: `runProviderContract` makes each a test. */
export function providerContractChecks(contract: ProviderContractOptions): ContractCheck[] {
  return [
    {
      title: 'has a valid name, and well-formed optional capabilities',
      applies: true,
      async run() {
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
      },
    },
    {
      title: 'matches its own hosts',
      applies: contract.ownHosts.length > 0,
      async run() {
        const provider = await contract.create();
        for (const host of contract.ownHosts) expect(provider.matches(parseRegistry(host)), host).toBe(true);
      },
    },
    {
      title: 'matches every registry (the fallback)',
      applies: contract.matchesEverything === true,
      async run() {
        const provider = await contract.create();
        for (const host of [...contract.ownHosts, ...SAMPLE_HOSTS])
          expect(provider.matches(parseRegistry(host)), host).toBe(true);
      },
    },
    {
      title: 'never matches a spoofed host, given or derived from its own',
      applies: contract.matchesEverything !== true,
      async run() {
        const provider = await contract.create();
        const spoofs = [
          ...contract.spoofedHosts,
          ...contract.ownHosts.map((host) => parseRegistry(host).host).flatMap(derivedSpoofs),
        ];
        let refused = 0;
        for (const spoof of spoofs) {
          const identity = tryParse(spoof);
          if (identity === undefined) continue;
          expect(provider.matches(identity), spoof).toBe(false);
          refused += 1;
        }
        // Derived spoofs that parse exist for every own host; a list where nothing parsed checked nothing.
        if (contract.ownHosts.length > 0) expect(refused).toBeGreaterThan(0);
      },
    },
    {
      title: 'matches as a function of the identity alone: in any order, once or many times',
      applies: true,
      async run() {
        const provider = await contract.create();
        const hosts = [...contract.ownHosts, ...contract.spoofedHosts, ...SAMPLE_HOSTS].filter(
          (host) => tryParse(host) !== undefined,
        );
        const forward = hosts.map((host) => provider.matches(parseRegistry(host)));
        const backward = [...hosts].reverse().map((host) => provider.matches(parseRegistry(host)));
        expect(backward.reverse()).toEqual(forward);
        // The same identity object again, after all the others: a matcher that keeps state answers differently.
        const identities = hosts.map((host) => parseRegistry(host));
        expect(identities.map((identity) => provider.matches(identity))).toEqual(forward);
        expect(identities.map((identity) => provider.matches(identity))).toEqual(forward);
      },
    },
    {
      title: 'answers its sample registry with a well-formed credential',
      applies: true,
      async run() {
        const provider = await contract.create();
        const { host, options, secrets, environment, podIdentity } = contract.answers;
        const registry = parseRegistry(host);
        const context = { ...testContext(options, secrets), ...(podIdentity === undefined ? {} : { podIdentity }) };
        const credential = await withEnvironment(environment ?? {}, () => provider.get(registry, context));
        expect(credential, `${provider.name} answered nothing for ${host}`).toBeDefined();
        expect(typeof credential?.username).toBe('string');
        expect(credential?.username.length).toBeGreaterThan(0);
        expect(typeof credential?.secret).toBe('string');
        expect(credential?.secret.length).toBeGreaterThan(0);
        if (credential?.expiresAt !== undefined) expect(credential.expiresAt).toBeInstanceOf(Date);
      },
    },
    {
      title: 'fails as it says: nothing, or a CredrelayError whose message says what failed',
      applies: true,
      async run() {
        const { fails } = contract;
        const provider = await (fails.create ?? contract.create)();
        const context = {
          ...testContext(fails.options ?? contract.answers.options, fails.secrets ?? {}),
          ...(fails.podIdentity === undefined ? {} : { podIdentity: fails.podIdentity }),
        };
        const outcome = await withEnvironment(fails.environment ?? {}, () =>
          provider.get(parseRegistry(fails.host), context).then(
            (credential) => ({ credential }),
            (error: unknown) => ({ error }),
          ),
        );
        if (fails.outcome === 'nothing') {
          expect('error' in outcome ? outcome.error : undefined).toBeUndefined();
          expect('credential' in outcome ? outcome.credential : undefined).toBeUndefined();
          return;
        }
        expect('error' in outcome, `${provider.name} answered instead of failing`).toBe(true);
        const error = 'error' in outcome ? outcome.error : undefined;
        expect(error).toBeInstanceOf(CredrelayError);
        expect((error as Error).message).toMatch(fails.outcome);
      },
    },
  ];
}

export function runProviderContract(name: string, contract: ProviderContractOptions): void {
  describe(`provider contract: ${name}`, () => {
    for (const check of providerContractChecks(contract)) {
      it.runIf(check.applies)(check.title, async () => {
        expect.hasAssertions();
        await check.run();
      });
    }
  });
}

/** Runs with the variables set (or, for `undefined`, unset), then puts the environment back. */
async function withEnvironment<T>(
  variables: Readonly<Record<string, string | undefined>>,
  run: () => Promise<T>,
): Promise<T> {
  const saved = Object.keys(variables).map((name) => [name, process.env[name]] as const);
  for (const [name, value] of Object.entries(variables)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    return await run();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
