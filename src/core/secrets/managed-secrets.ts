import type { SecretBinding } from '../config.js';
import { CredrelayError, isCredrelayError, toCredrelayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type OptionSpec, optionValueFits } from '../provider.js';
import { withDeadline } from '../util/deadline.js';

/**
 * Where a named secret's value comes from when the configuration's `secrets` binds it: a secret manager (AWS Secrets
 * Manager, Google Secret Manager, Azure Key Vault, Vault or OpenBao, 1Password) or a command. Each source is a
 * built-in of plugins/secret-sources/, loaded only when a route needs it, and uses the identities credrelay already
 * has (the AWS credential chain, Application Default Credentials, Entra, a CI job's token).
 */
export interface SecretSource {
  /** The `from` of a binding: `aws-secretsmanager`. */
  readonly name: string;
  /** The options a binding may give, checked when the configuration loads. */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /**
   * A problem with a binding's options as a whole, or undefined. `asCaller`: the binding reads as the CI job or the
   * pod (`jobIdentity`, `podIdentity`), so what the source needs to use the caller's token must be there.
   */
  check?(options: Readonly<Record<string, unknown>>, asCaller: boolean): string | undefined;
  /** Whether the source can read as the caller (with `callerToken`): bindings may then say whose identity. */
  readonly readsAsCaller?: boolean;
  /** Where the value lives, for `credrelay route`, `doctor` and `secrets list`: never the value. */
  describe(options: Readonly<Record<string, unknown>>): string;
  /**
   * The value: a string, or for a source that stores fields (a JSON secret, a Vault KV entry) an object whose `key`
   * option picks one. Failures are CredrelayErrors that name the secret, the source and the fix.
   */
  fetch(
    options: Readonly<Record<string, unknown>>,
    context: SecretSourceContext,
  ): Promise<string | Record<string, unknown>>;
}

export interface SecretSourceContext {
  /** The secret's name, for messages. */
  readonly name: string;
  /** What a source's own network call must finish within. */
  readonly deadlineMs: number;
  readonly logger: Logger;
  /**
   * The caller's token for a source that logs in with it: the CI job's OIDC token (a binding's `jobIdentity`), or in
   * kubelet mode the pod's service-account token (`podIdentity`).
   */
  readonly callerToken?: string;
}

/**
 * Fetches a value with the daemon's memory: kept for `keepMs`, shared by concurrent requests (the token cache, where
 * `credrelay cache list` shows it by name and source, and `cache clear` and a stopping daemon forget it).
 */
export type KeepValue = (
  secret: {
    readonly name: string;
    readonly where: string;
    readonly binding: SecretBinding;
    /** For a binding read as the CI job or a pod: what tells this caller from another, part of the key it is kept by. */
    readonly caller?: string;
  },
  fetch: () => Promise<string>,
  keepMs: number,
) => Promise<string>;

export interface ManagedSecrets {
  /**
   * The value of a bound secret, or undefined when the configuration does not bind this name. `pod`: in kubelet mode,
   * the pod the image is pulled for, which a binding with `podIdentity` is read as.
   */
  resolve(name: string, pod?: SecretReader): Promise<string> | undefined;
  /** Where a bound secret lives, in words, or undefined. */
  describe(name: string): string | undefined;
  /** Every bound name, with where it lives. */
  list(): ReadonlyArray<{ readonly name: string; readonly where: string }>;
}

/** Whom a secret is read as: the caller's token, and what tells this caller from another (for the kept value's key). */
export interface SecretReader {
  readonly token: string;
  readonly caller: string;
}

/** The most a source's fetch may take, within the router's provider deadline. */
const FETCH_DEADLINE_MS = 20_000;

/**
 * The secrets a configuration binds to sources, checked now (an unknown source or option is a configuration error
 * naming the secret), fetched on use with a deadline, and kept only in the daemon's memory for their `ttlSeconds`
 * (`keep`): a rotated secret is seen once that has passed, without restarting anything. Values are never written
 * anywhere, and every error names the secret and the source, never the value.
 */
export function createManagedSecrets(options: {
  readonly bindings: Readonly<Record<string, SecretBinding>>;
  readonly sources: readonly SecretSource[];
  readonly logger: Logger;
  readonly configPath: string;
  readonly keep?: KeepValue;
  /**
   * For a binding with `jobIdentity`: the CI job's token, and what tells the job from another (its claims but their
   * times). Read once per request, before the kept value is looked up: a daemon serves job after job on one runner.
   */
  readonly jobIdentity?: (binding: SecretBinding) => Promise<SecretReader>;
}): ManagedSecrets {
  const byName = new Map(options.sources.map((source) => [source.name, source]));
  const invalid = (name: string, why: string) =>
    new CredrelayError(
      'CONFIG_INVALID',
      `invalid configuration in ${options.configPath}: secrets ${JSON.stringify(name)} ${why}`,
    );
  for (const [name, binding] of Object.entries(options.bindings)) {
    const source = byName.get(binding.from);
    if (source === undefined)
      throw invalid(
        name,
        `comes "from" ${JSON.stringify(binding.from)}, which is not a source; the sources are ${[...byName.keys()].join(', ')}`,
      );
    for (const [key, value] of Object.entries(binding.options)) {
      if (key === 'key') continue;
      const spec = source.options[key];
      if (spec === undefined)
        throw invalid(
          name,
          `has the option "${key}", which ${source.name} does not take; it takes ${Object.keys(source.options).join(', ')}, key and ttlSeconds`,
        );
      if (!optionValueFits(spec, value)) throw invalid(name, `option "${key}" must be ${spec.description}`);
    }
    for (const [key, spec] of Object.entries(source.options))
      if (spec.required && binding.options[key] === undefined)
        throw invalid(name, `needs the option "${key}" (${spec.description})`);
    if (binding.options.key !== undefined && typeof binding.options.key !== 'string')
      throw invalid(name, 'option "key" must be the name of a field of the secret');
    if ((binding.jobIdentity !== undefined || binding.podIdentity) && !source.readsAsCaller)
      throw invalid(
        name,
        `has "${binding.podIdentity ? 'podIdentity' : 'jobIdentity'}", but ${source.name} reads with its own credentials; the sources that read as the caller are ${options.sources
          .filter((candidate) => candidate.readsAsCaller)
          .map((candidate) => candidate.name)
          .join(', ')}`,
      );
    // A source checks what it needs to read as the caller (a role, a provider, an app registration) the same way
    // for a job and for a pod: both hand it a token.
    const problem = source.check?.(binding.options, binding.jobIdentity !== undefined || binding.podIdentity === true);
    if (problem !== undefined) throw invalid(name, problem);
  }

  const fetchValue = async (
    name: string,
    binding: SecretBinding,
    source: SecretSource,
    callerToken: string | undefined,
  ): Promise<string> => {
    const context: SecretSourceContext = {
      name,
      deadlineMs: FETCH_DEADLINE_MS,
      logger: options.logger,
      ...(callerToken === undefined ? {} : { callerToken }),
    };
    let fetched: string | Record<string, unknown>;
    try {
      fetched = await withDeadline(
        source.fetch(binding.options, context),
        FETCH_DEADLINE_MS + 1000,
        () =>
          new CredrelayError(
            'SECRET_MISSING',
            `secret ${name} (${source.describe(binding.options)}) did not arrive within ${FETCH_DEADLINE_MS / 1000} s: check that the source is reachable, or run \`credrelay doctor\``,
          ),
      );
    } catch (error) {
      if (isCredrelayError(error)) throw error;
      throw new CredrelayError(
        'SECRET_MISSING',
        `secret ${name} could not be read from ${source.describe(binding.options)}: ${toCredrelayError(error).message}`,
      );
    }
    const value = pick(name, binding, source, fetched);
    options.logger.redact(value);
    return value;
  };

  const describe = (name: string): string | undefined => {
    const binding = options.bindings[name];
    if (binding === undefined) return undefined;
    const where = byName.get(binding.from)!.describe(binding.options);
    return binding.options.key === undefined ? where : `${where}, field ${String(binding.options.key)}`;
  };

  return {
    resolve(name, pod) {
      const binding = options.bindings[name];
      if (binding === undefined) return undefined;
      const source = byName.get(binding.from)!;
      const keepOrFetch = (reader?: SecretReader) => {
        const fetch = () => fetchValue(name, binding, source, reader?.token);
        if (options.keep === undefined || binding.ttlSeconds === 0) return fetch();
        const secret = {
          name,
          where: describe(name)!,
          binding,
          ...(reader === undefined ? {} : { caller: reader.caller }),
        };
        return options.keep(secret, fetch, binding.ttlSeconds * 1000);
      };
      if (binding.podIdentity) {
        if (pod === undefined)
          return Promise.reject(
            new CredrelayError(
              'SECRET_MISSING',
              `secret ${name} is read as the pod the kubelet pulls for ("podIdentity"): only a kubelet request that carries the pod's service-account token can read it; bind another name for docker and the other clients`,
            ),
          );
        options.logger.redact(pod.token);
        return keepOrFetch(pod);
      }
      if (binding.jobIdentity === undefined || options.jobIdentity === undefined) return keepOrFetch();
      return withDeadline(
        options.jobIdentity(binding),
        FETCH_DEADLINE_MS,
        () =>
          new CredrelayError(
            'SECRET_MISSING',
            `secret ${name}: the CI job's OIDC token could not be had within ${FETCH_DEADLINE_MS / 1000} s: run \`credrelay doctor\` to see where it comes from`,
          ),
      ).then((job) => {
        options.logger.redact(job.token);
        return keepOrFetch(job);
      });
    },
    describe,
    list: () =>
      Object.keys(options.bindings)
        .sort()
        .map((name) => ({ name, where: describe(name)! })),
  };
}

/** The value a binding names: the source's string, or the `key` field of the JSON object (or fields) it holds. */
function pick(
  name: string,
  binding: SecretBinding,
  source: SecretSource,
  fetched: string | Record<string, unknown>,
): string {
  const key = binding.options.key as string | undefined;
  const where = source.describe(binding.options);
  if (key === undefined) {
    if (typeof fetched === 'string') {
      if (fetched === '')
        throw new CredrelayError('SECRET_MISSING', `secret ${name} is empty in ${where}: give it a value there`);
      return fetched;
    }
    throw new CredrelayError(
      'SECRET_INVALID',
      `secret ${name} in ${where} holds fields (${Object.keys(fetched).join(', ')}): say which with "key"`,
    );
  }
  let fields: unknown = fetched;
  if (typeof fetched === 'string') {
    try {
      fields = JSON.parse(fetched);
    } catch {
      throw new CredrelayError(
        'SECRET_INVALID',
        `secret ${name} in ${where} is not JSON, so it has no field "${key}": drop "key", or store the secret as a JSON object`,
      );
    }
  }
  const field = typeof fields === 'object' && fields !== null ? (fields as Record<string, unknown>)[key] : undefined;
  if (typeof field !== 'string' || field === '') {
    const known = typeof fields === 'object' && fields !== null ? Object.keys(fields).join(', ') : 'none';
    throw new CredrelayError(
      'SECRET_MISSING',
      `secret ${name} in ${where} has no field "${key}" (its fields: ${known || 'none'}): fix "key", or add the field there`,
    );
  }
  return field;
}
