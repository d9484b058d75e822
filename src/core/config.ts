import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { CredrelayError } from './errors.js';
import { isIgnoredVariable } from './paths.js';
import { jsonErrorPosition } from './util/json-error-position.js';
import { untrustedReason } from './util/file-trust.js';
import { shownValue } from './util/redact.js';
import { type RegistryPattern, parseRegistryPattern } from './registry/registry-pattern.js';

/**
 * Where long-lived secrets live. `auto` (the default) and `os` use the OS keychain; `file` uses the encrypted file
 * store. There is never a silent fallback from one to the other: with `auto`, an unreachable keychain is an error
 * that also says how to turn the file store on.
 */
export type StoreSetting = 'auto' | 'os' | 'file';

const STORE_SETTINGS: readonly StoreSetting[] = ['auto', 'os', 'file'];

/** One `registries` entry as written: which provider, with which options. */
/** One `registries` entry, validated: the route credrelay takes for the registries (or repositories) its key names. */
export interface RegistryEntry {
  /** The key exactly as written in the file, for error messages and `credrelay route`. */
  readonly written: string;
  readonly pattern: RegistryPattern;
  readonly provider: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Whether kubelet requests for it are answered as the pod (see PodIdentityMode). */
  readonly podIdentity: PodIdentityMode;
  /** Pull as the CI job that runs credrelay, with the job's own OIDC token (see JobIdentitySetting). */
  readonly jobIdentity?: JobIdentitySetting;
}

/**
 * Where a CI job's OIDC token comes from: GitHub Actions' token service (`ACTIONS_ID_TOKEN_REQUEST_URL` with
 * `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, for `audience`), a variable GitLab CI fills from `id_tokens`, or a file a
 * platform mounts. The provider exchanges it as it would a pod's service-account token.
 */
export type JobIdentitySetting =
  | { readonly source: 'github-actions'; readonly audience: string }
  | { readonly source: 'gitlab'; readonly variable: string }
  | { readonly source: 'file'; readonly path: string };

/**
 * `auto` (default): as the pod when kubelet passes its service-account token and the provider can act as it,
 * else as the node. `required`: as the pod or not at all. `off`: always as the node, token or not.
 */
export type PodIdentityMode = 'auto' | 'required' | 'off';
const POD_IDENTITY_MODES: readonly PodIdentityMode[] = ['auto', 'required', 'off'];

/** credrelay's configuration, validated once at load and then frozen. */
export interface Config {
  /** The file it came from (or would have), to resolve plugin paths and name in errors. */
  readonly path: string;
  readonly daemon: {
    /** The daemon exits after this long without a request. */
    readonly idleTimeoutSeconds: number;
    /** How long `credrelay unlock` holds the file store's key unless `--timeout` says; absent: until `lock`. */
    readonly unlockTimeoutSeconds?: number;
  };
  readonly registries: readonly RegistryEntry[];
  /** Third-party provider modules: paths (relative to the config file) or package names. */
  readonly plugins: readonly string[];
  /** Where long-lived secrets live: the OS keychain (`auto`, `os`) or the encrypted file store (`file`). */
  readonly store: StoreSetting;
  /**
   * Variables (`NAME`) and prefixes (`NAME_*`) that the programs plugins run read: they are passed to those programs
   * (every variable already separates callers, paths.ts). Never one of the variables the daemon ignores.
   */
  readonly environment: readonly string[];
  /** Secrets that live in a secret manager (or a command), by name: `"$NAME"` in a route resolves from there. */
  readonly secrets: Readonly<Record<string, SecretBinding>>;
}

/** Where one named secret lives: a source (`from`), its options, and how long its value is kept in memory. */
export interface SecretBinding {
  readonly from: string;
  readonly ttlSeconds: number;
  readonly options: Readonly<Record<string, unknown>>;
  /** Read as the CI job, with its own OIDC token (a source that logs in with it: Vault's JWT login, AWS roles). */
  readonly jobIdentity?: JobIdentitySetting;
  /** In kubelet mode, read as the pod the image is pulled for, with its service-account token; nowhere else. */
  readonly podIdentity?: true;
}

export const DEFAULT_IDLE_TIMEOUT_SECONDS = 30 * 60;
/** The longest idle timeout or key hold: ten years, which the daemon's timers wait out in steps (long-timeout.ts). */
export const MAX_DURATION_SECONDS = 10 * 365 * 86400;

const TOP_LEVEL_KEYS = ['registries', 'plugins', 'daemon', 'store', 'environment', 'secrets'];

const invalid = (path: string, where: string, fix: string): CredrelayError =>
  new CredrelayError('CONFIG_INVALID', `invalid configuration in ${path}: ${where} ${fix}`);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads and validates the configuration file. A missing file is the default configuration; anything wrong in an
 * existing one is an error that names the key and the fix, because a broken configuration must never silently
 * become a different one.
 */
export function loadConfig(path: string): Config {
  if (!isAbsolute(path)) {
    // Resolved against the current directory, it would let any repository a command runs in supply a config.
    throw new CredrelayError(
      'CONFIG_INVALID',
      `CREDRELAY_CONFIG must be an absolute path, not ${shownValue(path, 256)}: name the file from /`,
    );
  }
  const untrusted = untrustedReason(path);
  if (untrusted !== undefined) {
    throw new CredrelayError(
      'CONFIG_INVALID',
      `refusing the configuration ${path}: ${untrusted.reason}, so someone else could route registries or run code; fix it with ${untrusted.fix}`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return parseConfig({}, path);
    throw new CredrelayError(
      'CONFIG_INVALID',
      `cannot read the configuration file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The place only: V8's message may quote the file, and the file may hold anything.
    const at = jsonErrorPosition(text);
    const where = at === undefined ? 'the file' : `the file, at line ${at.line}, column ${at.column},`;
    throw invalid(path, where, 'is not valid JSON: fix it there, or move the file away to use the defaults');
  }
  return parseConfig(document, path);
}

/**
 * Validates a parsed configuration document. Provider names and their options are checked later, against the
 * providers that exist once plugins are loaded (provider-set.ts).
 */
export function parseConfig(document: unknown, path = 'the configuration'): Config {
  if (!isPlainObject(document)) throw invalid(path, 'the top level', 'must be a JSON object');
  for (const key of Object.keys(document)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      throw invalid(
        path,
        `the key ${JSON.stringify(key)}`,
        `is not known; the known top-level keys are ${TOP_LEVEL_KEYS.map((k) => `"${k}"`).join(', ')}`,
      );
    }
  }
  return Object.freeze({
    path,
    daemon: parseDaemon(document.daemon, path),
    registries: Object.freeze(parseRegistries(document.registries, path)),
    plugins: Object.freeze(parsePlugins(document.plugins, path)),
    store: parseStore(document.store, path),
    environment: Object.freeze(parseEnvironment(document.environment, path)),
    secrets: Object.freeze(parseSecrets(document.secrets, path)),
  });
}

/** How long a managed secret's value is kept in the daemon's memory unless its binding says: a rotation shows soon. */
export const DEFAULT_SECRET_TTL_SECONDS = 300;

function parseSecrets(value: unknown, path: string): Record<string, SecretBinding> {
  if (value === undefined) return {};
  if (!isPlainObject(value))
    throw invalid(
      path,
      '"secrets"',
      'must be an object from a secret name to where it lives, such as {"DOCKERHUB_TOKEN": {"from": "aws-secretsmanager", "id": "ci/dockerhub"}}',
    );
  const bindings: Record<string, SecretBinding> = {};
  for (const [name, entry] of Object.entries(value)) {
    const where = `secrets ${JSON.stringify(name)}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw invalid(
        path,
        where,
        'must be named with letters, digits and _, not starting with a digit (like DOCKERHUB_TOKEN)',
      );
    if (!isPlainObject(entry) || typeof entry.from !== 'string')
      throw invalid(
        path,
        where,
        'must be an object naming its source, such as {"from": "aws-secretsmanager", "id": "ci/dockerhub"}',
      );
    const { from, ttlSeconds, jobIdentity, podIdentity, ...options } = entry;
    if (podIdentity !== undefined && podIdentity !== true && podIdentity !== false)
      throw invalid(path, `${where} "podIdentity"`, 'must be true (read as the pod the kubelet pulls for) or false');
    if (podIdentity === true && jobIdentity !== undefined)
      throw invalid(
        path,
        where,
        'has both "jobIdentity" and "podIdentity": a secret is read as the CI job or as the pod; bind two names',
      );
    if (
      ttlSeconds !== undefined &&
      !(typeof ttlSeconds === 'number' && Number.isInteger(ttlSeconds) && ttlSeconds >= 0 && ttlSeconds <= 86_400)
    )
      throw invalid(path, `${where} "ttlSeconds"`, 'must be a whole number of seconds from 0 to 86400');
    bindings[name] = Object.freeze({
      from,
      ttlSeconds: ttlSeconds ?? DEFAULT_SECRET_TTL_SECONDS,
      options: Object.freeze(options),
      ...(jobIdentity === undefined ? {} : { jobIdentity: parseJobIdentity(jobIdentity, path, where) }),
      ...(podIdentity === true ? { podIdentity: true as const } : {}),
    });
  }
  return bindings;
}

function parseEnvironment(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.some((name) => typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(name))
  ) {
    throw invalid(
      path,
      '"environment"',
      'must be a list of variable names or NAME_* prefixes that plugins read, such as ["CI_JOB_TOKEN", "CORP_*"]',
    );
  }
  const ignored = (value as string[]).find((name) => isIgnoredVariable(name.replace(/\*$/, '')));
  if (ignored !== undefined) {
    throw invalid(
      path,
      '"environment"',
      `names ${ignored}, which changes from step to step or program to program and is not passed to the daemon: name another variable`,
    );
  }
  return [...(value as string[])];
}

function parseStore(value: unknown, path: string): StoreSetting {
  if (value === undefined) return 'auto';
  if (typeof value !== 'string' || !(STORE_SETTINGS as readonly string[]).includes(value)) {
    throw invalid(
      path,
      '"store"',
      'must be "auto" (the OS keychain, the default), "os" (the same, without the file-store hint) or "file" (the encrypted file store)',
    );
  }
  return value as StoreSetting;
}

function parseDaemon(value: unknown, path: string): Config['daemon'] {
  const settings: { idleTimeoutSeconds: number; unlockTimeoutSeconds?: number } = {
    idleTimeoutSeconds: DEFAULT_IDLE_TIMEOUT_SECONDS,
  };
  if (value !== undefined) {
    if (!isPlainObject(value))
      throw invalid(path, '"daemon"', 'must be an object such as {"idleTimeoutSeconds": 1800}');
    for (const [key, setting] of Object.entries(value)) {
      if (key !== 'idleTimeoutSeconds' && key !== 'unlockTimeoutSeconds') {
        throw invalid(
          path,
          `"daemon.${key}"`,
          'is not known; the known keys are "daemon.idleTimeoutSeconds" and "daemon.unlockTimeoutSeconds"',
        );
      }
      if (typeof setting !== 'number' || !Number.isFinite(setting) || setting <= 0 || setting > MAX_DURATION_SECONDS) {
        throw invalid(
          path,
          `"daemon.${key}"`,
          `must be a positive number of seconds up to ${MAX_DURATION_SECONDS} (ten years), for example 1800`,
        );
      }
      settings[key] = setting;
    }
  }
  return Object.freeze(settings);
}

function parseRegistries(value: unknown, path: string): RegistryEntry[] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) {
    throw invalid(
      path,
      '"registries"',
      'must be an object from registry to entry, such as {"registry.example": {"provider": "keychain"}}',
    );
  }
  const seen = new Map<string, string>();
  return Object.entries(value).map(([written, entry]) => {
    let pattern: RegistryPattern;
    try {
      pattern = parseRegistryPattern(written);
    } catch (error) {
      throw invalid(path, `the registries key`, (error as Error).message);
    }
    const duplicate = seen.get(`${pattern.kind}:${pattern.key}`);
    if (duplicate !== undefined) {
      throw invalid(
        path,
        `registries ${shownValue(written, 256)}`,
        `names the same registry as ${shownValue(duplicate, 256)}; keep one of them`,
      );
    }
    seen.set(`${pattern.kind}:${pattern.key}`, written);
    if (!isPlainObject(entry)) {
      throw invalid(path, `registries ${shownValue(written, 256)}`, 'must be an object such as {"provider": "ecr"}');
    }
    const { provider: named, podIdentity = 'auto', jobIdentity, ...options } = entry;
    const job =
      jobIdentity === undefined
        ? undefined
        : parseJobIdentity(jobIdentity, path, `registries ${shownValue(written, 256)}`);
    if (!POD_IDENTITY_MODES.includes(podIdentity as PodIdentityMode)) {
      throw invalid(
        path,
        `registries ${shownValue(written, 256)}`,
        `has "podIdentity" ${shownValue(podIdentity)}; it must be one of ${POD_IDENTITY_MODES.map((mode) => `"${mode}"`).join(', ')}`,
      );
    }
    // The shape build platforms use, {"username": …, "password": "$SECRET"}, needs no provider name.
    const provider = named === undefined && ('username' in options || 'password' in options) ? 'static' : named;
    if (typeof provider !== 'string' || provider.length === 0) {
      throw invalid(
        path,
        `registries ${shownValue(written, 256)}`,
        'needs "provider" (see `credrelay providers`), or "username" and "password" for fixed credentials',
      );
    }
    return Object.freeze({
      written,
      pattern,
      provider,
      options: Object.freeze(options),
      podIdentity: podIdentity as PodIdentityMode,
      ...(job === undefined ? {} : { jobIdentity: job }),
    });
  });
}

const ENVIRONMENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const AUDIENCE = /^[\x21-\x7e]{1,256}$/;

function parseJobIdentity(value: unknown, path: string, owner: string): JobIdentitySetting {
  const where = `${owner} "jobIdentity"`;
  const shapes =
    'must be {"source": "github-actions", "audience": "…"}, {"source": "gitlab", "variable": "NAME"} or {"source": "file", "path": "/absolute/path"}';
  if (!isPlainObject(value)) throw invalid(path, where, shapes);
  const { source, ...rest } = value;
  const keys = Object.keys(rest).sort().join(',');
  if (
    source === 'github-actions' &&
    keys === 'audience' &&
    typeof rest.audience === 'string' &&
    AUDIENCE.test(rest.audience)
  )
    return Object.freeze({ source, audience: rest.audience });
  if (
    source === 'gitlab' &&
    keys === 'variable' &&
    typeof rest.variable === 'string' &&
    ENVIRONMENT_NAME.test(rest.variable)
  )
    return Object.freeze({ source, variable: rest.variable });
  if (source === 'file' && keys === 'path' && typeof rest.path === 'string' && isAbsolute(rest.path))
    return Object.freeze({ source, path: rest.path });
  throw invalid(path, where, shapes);
}

function parsePlugins(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((plugin) => typeof plugin !== 'string' || plugin.length === 0)) {
    throw invalid(path, '"plugins"', 'must be a list of module paths or package names, such as ["./my-provider.js"]');
  }
  return [...(value as string[])];
}
