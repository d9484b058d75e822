import {
  type Credential,
  CredrelayError,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  type StoredCredential,
  findCredentialHelper,
  foreignExcerpt,
  jwtExpiry,
  programEnvironment,
  runProgram,
} from '../../src/plugin-api.js';

/** How long one run of a wrapped helper may take before it is killed. */
const EXEC_DEADLINE_MS = 20_000;
/** How long an answer is kept in daemon memory unless the route says otherwise, and at most. */
const DEFAULT_CACHE_SECONDS = 300;
const MAX_CACHE_SECONDS = 24 * 3600;
/** A credential is a few KiB; a helper that prints a megabyte is broken. */
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** How much of a helper's stderr an error carries, as detail after its protocol message. */
const MAX_STDERR_DETAIL = 300;
/** The text every docker-credential helper prints for "nothing stored for this registry". */
const NOT_FOUND = 'credentials not found in native keychain';
/** What Docker allows after `docker-credential-`, without a path separator or a leading dash. */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface ExecProviderOptions {
  /** Where the helper is looked for; the daemon's PATH (the caller's) by default. */
  readonly path?: () => string | undefined;
  readonly deadlineMs?: number;
}

/**
 * Any existing docker-credential helper behind credrelay's routing and cache:
 * `{"provider": "exec", "helper": "gcloud"}` runs `docker-credential-gcloud get` as Docker would, and keeps its
 * answer in daemon memory for `cacheSeconds` (or until the secret's own expiry, for a JWT with `exp`). Concurrent
 * requests share one run. `store` and `erase` reach the helper only with `"storage": true`.
 */
export function createExecProvider(options: ExecProviderOptions = {}): Provider {
  const deadlineMs = options.deadlineMs ?? EXEC_DEADLINE_MS;
  const helperOf = (context: ProviderContext): string => String(context.options.helper);

  const run = async (helper: string, action: string, input: string) => {
    const executable = findCredentialHelper(helper, options.path?.() ?? process.env.PATH);
    if (executable === undefined) {
      throw new CredrelayError(
        'PROVIDER_FAILED',
        `docker-credential-${helper} is not on PATH (the PATH of the program that asks for the credential): install it, or fix "helper" in the registries entry`,
      );
    }
    let result;
    try {
      result = await runProgram({
        executable,
        args: [action],
        input,
        env: programEnvironment(),
        deadlineMs,
        maxOutputBytes: MAX_OUTPUT_BYTES,
      });
    } catch (error) {
      throw new CredrelayError(
        'PROVIDER_FAILED',
        `docker-credential-${helper} could not be run (${(error as NodeJS.ErrnoException).code ?? 'error'}): check that it is an executable`,
      );
    }
    if (result.timedOut) {
      throw new CredrelayError(
        'PROVIDER_FAILED',
        `docker-credential-${helper} ${action} did not answer within ${deadlineMs / 1000} s and was stopped: run it by hand to see what it waits for`,
      );
    }
    if (result.overflowed) {
      throw new CredrelayError('PROVIDER_FAILED', `docker-credential-${helper} ${action} printed more than 1 MiB`);
    }
    return result;
  };

  /**
   * A helper's failure, never mistaken for "not found". The protocol's error channel is stdout, so its message leads
   * (what Docker would show); stderr follows as bounded detail. Both are excerpts: printable, bounded.
   */
  const failed = (
    helper: string,
    action: string,
    result: { stdout: string; stderr: string; exitCode: number | null },
  ) => {
    const message = result.stdout.trim();
    const detail = result.stderr.trim();
    const said =
      message !== ''
        ? foreignExcerpt(message) + (detail !== '' ? ` (stderr: ${foreignExcerpt(detail, MAX_STDERR_DETAIL)})` : '')
        : detail !== ''
          ? foreignExcerpt(detail)
          : 'no message';
    return new CredrelayError(
      'PROVIDER_FAILED',
      `docker-credential-${helper} ${action} failed (exit ${result.exitCode ?? 'signal'}): ${said}`,
    );
  };

  const get = async (registry: RegistryIdentity, context: ProviderContext): Promise<Credential | undefined> => {
    const helper = helperOf(context);
    const result = await run(helper, 'get', serverURLFor(registry));
    if (result.exitCode !== 0) {
      if (result.stdout.trim() === NOT_FOUND) return undefined;
      throw failed(helper, 'get', result);
    }
    return parseCredential(result.stdout, helper);
  };

  return {
    name: 'exec',
    about: {
      description:
        'Any docker-credential helper (gcloud, pass, osxkeychain…), run as Docker runs it, its answer cached',
      hostPatterns: ['configured registries only'],
    },
    routes: {
      options: {
        helper: {
          type: 'string',
          required: true,
          description: 'the helper\'s name, as in "credHelpers": "gcloud" runs docker-credential-gcloud',
          pattern: HELPER_NAME,
        },
        cacheSeconds: {
          type: 'number',
          description: `how long the daemon keeps the helper's answer, 0 to ${MAX_CACHE_SECONDS} (default ${DEFAULT_CACHE_SECONDS})`,
          range: [0, MAX_CACHE_SECONDS],
        },
        storage: {
          type: 'boolean',
          description: 'true to pass docker login and logout on to the helper (store and erase)',
        },
      },
    },
    matches: () => false,
    cachePolicy: {
      identity: (routeOptions) => `helper=${String(routeOptions.helper)}`,
      keepSeconds: (routeOptions) =>
        typeof routeOptions.cacheSeconds === 'number' ? routeOptions.cacheSeconds : DEFAULT_CACHE_SECONDS,
    },

    get,

    storage: {
      async store(registry, credential: StoredCredential, context) {
        const helper = helperOf(context);
        if (context.options.storage !== true) {
          context.notice(
            `credrelay: ${registry.key} is served by docker-credential-${helper} through the exec provider without "storage": true; nothing was stored`,
          );
          return;
        }
        const document = JSON.stringify({
          ServerURL: credential.serverURL,
          Username: credential.username,
          Secret: credential.secret,
        });
        const result = await run(helper, 'store', document);
        if (result.exitCode !== 0) throw failed(helper, 'store', result);
      },
      async erase(registry, context) {
        const helper = helperOf(context);
        if (context.options.storage !== true) {
          context.notice(
            `credrelay: ${registry.key} is served by docker-credential-${helper} through the exec provider without "storage": true; nothing was erased (its cached answer was dropped)`,
          );
          return;
        }
        const result = await run(helper, 'erase', serverURLFor(registry));
        if (result.exitCode !== 0 && result.stdout.trim() !== NOT_FOUND) throw failed(helper, 'erase', result);
      },
      // What a wrapped helper stores is its own to list: `docker-credential-<name> list` shows it.
      list: async () => [],
    },

    diagnostics: {
      async diagnose(registry, context) {
        const helper = helperOf(context);
        const credential = await get(registry, context);
        if (credential === undefined) {
          throw new CredrelayError(
            'PROVIDER_FAILED',
            `docker-credential-${helper} has no credential for ${registry.key}: log in through that helper first`,
          );
        }
        return `docker-credential-${helper} answers for ${registry.key} (user ${credential.username})`;
      },
    },
  };
}

/** The server string the helper is asked about: what Docker itself would pass. */
const serverURLFor = (registry: RegistryIdentity): string =>
  registry.isDockerHub ? 'https://index.docker.io/v1/' : registry.key;

/** A helper's answer, checked: a JSON object with a username and a secret, nothing else trusted. */
function parseCredential(stdout: string, helper: string): Credential {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    value = undefined;
  }
  const fields =
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const { Username: username, Secret: secret } = fields;
  if (typeof username !== 'string' || typeof secret !== 'string' || secret === '') {
    throw new CredrelayError(
      'PROVIDER_FAILED',
      `docker-credential-${helper} get answered something that is not a credential (a JSON object with Username and Secret)`,
    );
  }
  const expiresAt = jwtExpiry(secret);
  return { username, secret, ...(expiresAt ? { expiresAt } : {}) };
}
