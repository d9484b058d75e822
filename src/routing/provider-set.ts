import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../core/config.js';
import { CredrelayError } from '../core/errors.js';
import { untrustedReason } from '../core/util/file-trust.js';
import { PROVIDER_NAME, type Provider, type StorageProvider, optionValueFits } from '../core/provider.js';
import type { Route } from './route-table.js';

/** The providers of one configuration: the keychain fallback, and the others in matching order. */
export interface ProviderSet {
  readonly keychain: StorageProvider;
  /** Consulted in this order by their own matchers: built-in cloud providers, then plugins. */
  readonly matchers: readonly Provider[];
  readonly byName: ReadonlyMap<string, Provider>;
  /** The configuration's `registries`, each checked against its provider. */
  readonly routes: readonly Route[];
}

const configError = (config: Config, message: string) =>
  new CredrelayError('CONFIG_INVALID', `invalid configuration in ${config.path}: ${message}`);

/**
 * Loads plugins and checks every `registries` entry against the provider it names: an unknown provider, an unknown
 * or malformed option, or an entry the provider cannot serve is an error naming the key, never a silent re-route.
 */
export async function loadProviderSet(
  config: Config,
  keychain: StorageProvider,
  builtins: readonly Provider[],
): Promise<ProviderSet> {
  const plugins: Provider[] = [];
  for (const specifier of config.plugins) plugins.push(await loadPlugin(config, specifier));

  const byName = new Map<string, Provider>();
  for (const provider of [keychain, ...builtins, ...plugins]) {
    if (byName.has(provider.name))
      throw configError(config, `two providers are named "${provider.name}"; plugin names must be unique`);
    byName.set(provider.name, provider);
  }

  const routes = config.registries.map((entry): Route => {
    const where = `registries ${JSON.stringify(entry.written)}`;
    const provider = byName.get(entry.provider);
    if (provider === undefined) {
      throw configError(
        config,
        `${where} names provider "${entry.provider}", which does not exist; known providers: ${[...byName.keys()].join(', ')}`,
      );
    }
    const specs = provider.routes?.options ?? {};
    for (const [option, value] of Object.entries(entry.options)) {
      const spec = specs[option];
      if (spec === undefined) {
        const known = Object.keys(specs);
        throw configError(
          config,
          `${where}: option "${option}" is not known to provider "${provider.name}"${known.length ? `; it accepts ${known.join(', ')}` : '; it takes no options'}`,
        );
      }
      if (!optionValueFits(spec, value)) {
        throw configError(config, `${where}: option "${option}" must be ${spec.description}`);
      }
    }
    for (const [option, spec] of Object.entries(specs)) {
      if (spec.required && entry.options[option] === undefined)
        throw configError(
          config,
          `${where}: provider "${provider.name}" needs option "${option}" (${spec.description})`,
        );
    }
    const problem = provider.routes?.check?.(entry.pattern, entry.options);
    if (problem !== undefined) throw configError(config, `${where}: ${problem}`);
    if (entry.podIdentity !== 'auto' && provider.podIdentity === undefined) {
      throw configError(
        config,
        `${where}: "podIdentity" is for providers that can act as the pod kubelet pulls for; provider "${provider.name}" cannot`,
      );
    }
    if (entry.jobIdentity !== undefined && provider.podIdentity === undefined) {
      throw configError(
        config,
        `${where}: "jobIdentity" is for providers that exchange an OIDC token (ecr, gar, acr); provider "${provider.name}" cannot`,
      );
    }
    const { written, pattern, options, podIdentity, jobIdentity } = entry;
    return { written, pattern, provider: provider.name, options, podIdentity, ...(jobIdentity ? { jobIdentity } : {}) };
  });

  return { keychain, matchers: [...builtins, ...plugins], byName, routes };
}

/** Imports a plugin: a path (relative to the configuration file) or a package name; its default export is a provider or a function that returns one. */
async function loadPlugin(config: Config, specifier: string): Promise<Provider> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier);
  const path = resolve(dirname(config.path), specifier);
  const untrusted = isPath ? untrustedReason(path) : undefined;
  if (untrusted !== undefined) {
    throw configError(
      config,
      `refusing plugin ${JSON.stringify(specifier)}: ${untrusted.reason}, so someone else could run code in credrelay; fix it with ${untrusted.fix}`,
    );
  }
  const target = isPath ? pathToFileURL(path).href : specifier;
  let module: { default?: unknown };
  try {
    module = (await import(target)) as { default?: unknown };
  } catch (error) {
    throw configError(
      config,
      `plugin ${JSON.stringify(specifier)} could not be loaded (${(error as Error).message.split('\n')[0]}); check the path or install the package`,
    );
  }
  const exported = module.default;
  const provider: unknown = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  const problem = providerProblem(provider);
  if (problem !== undefined)
    throw configError(config, `plugin ${JSON.stringify(specifier)}: ${problem} (see docs/plugins.md)`);
  return provider as Provider;
}

/** What makes a plugin's export unusable as a provider, checked before anything calls it. */
function providerProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null)
    return 'its default export is not a provider (or a function returning one)';
  const provider = value as Record<string, unknown>;
  if (typeof provider.name !== 'string' || !PROVIDER_NAME.test(provider.name))
    return 'its name must be lower-case letters, digits and dashes';
  if (typeof provider.matches !== 'function' || typeof provider.get !== 'function')
    return 'it must have matches(registry) and get(registry, context) functions';
  const capabilities = ['about', 'routes', 'cachePolicy', 'storage', 'diagnostics', 'podIdentity'] as const;
  const malformed = capabilities.find((key) => provider[key] !== undefined && typeof provider[key] !== 'object');
  if (malformed !== undefined) return `its "${malformed}" must be an object`;
  const storage = provider.storage as Record<string, unknown> | undefined;
  if (storage !== undefined && ['store', 'erase', 'list'].some((method) => typeof storage[method] !== 'function'))
    return 'its storage must have store, erase and list functions';
  const podIdentity = provider.podIdentity as Record<string, unknown> | undefined;
  if (podIdentity !== undefined && ['uses', 'annotations'].some((method) => typeof podIdentity[method] !== 'function'))
    return 'its podIdentity must have uses and annotations functions';
  return undefined;
}

/** Whether a value has the option's type, and for a string its pattern, for a number its integer range. */
