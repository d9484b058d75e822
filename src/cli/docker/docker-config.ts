import { findCredentialHelper } from '../../core/util/credential-helper-path.js';
import { lstatSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CredrelayError } from '../../core/errors.js';
import { parseRegistry } from '../../core/registry/identity.js';
import { replaceFileAtomically } from '../../core/util/atomic-file.js';

export const HELPER_NAME = 'credrelay';

/** `$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`: where Docker and skopeo look for helpers. */
export const dockerConfigPath = (env: NodeJS.ProcessEnv = process.env): string =>
  join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');

/** What credrelay replaced in a Docker config: each value as it was (null where the key was absent). */
export interface ReplacedHelpers {
  readonly credsStore?: string | null;
  readonly credHelpers?: Readonly<Record<string, string | null>>;
}

export interface DockerConfigPlan {
  readonly next: Record<string, unknown>;
  /** What the change replaces, so that `configure-docker --undo` can put it back. */
  readonly replaced: ReplacedHelpers;
  /** What changes, for people: `set credsStore to "credrelay" (was "desktop")`. Empty when nothing does. */
  readonly changes: readonly string[];
  /** What the user should know: a helper being replaced, whose stored credentials stay behind. */
  readonly warnings: readonly string[];
}

/** The credHelpers keys for a registry: its host[:port]; Docker Hub under the names both docker and skopeo use. */
function credHelperKeys(registry: string): string[] {
  const identity = parseRegistry(registry);
  return identity.isDockerHub ? ['https://index.docker.io/v1/', 'docker.io'] : [identity.key];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Plans the change to Docker's config: `"credsStore": "credrelay"`, or with registries `credHelpers` entries for
 * them. Every other key and value is kept as it is, in its order. Planning twice gives no changes the second time.
 */
export function planDockerConfig(current: Record<string, unknown>, registries?: readonly string[]): DockerConfigPlan {
  const next: Record<string, unknown> = { ...current };
  const changes: string[] = [];
  const warnings: string[] = [];
  let replaced: ReplacedHelpers = {};
  if (registries === undefined || registries.length === 0) {
    const previous = current.credsStore;
    if (previous !== HELPER_NAME) {
      next.credsStore = HELPER_NAME;
      replaced = { credsStore: typeof previous === 'string' ? previous : null };
      changes.push(
        `set credsStore to "${HELPER_NAME}"${previous === undefined ? '' : ` (was ${JSON.stringify(previous)})`}`,
      );
      if (typeof previous === 'string' && previous !== '') {
        warnings.push(
          `replacing credsStore "${previous}": credentials stored by docker-credential-${previous} stay there, unused; log in again to keep them in credrelay`,
        );
      }
    }
  } else {
    if (current.credHelpers !== undefined && !isObject(current.credHelpers)) {
      throw new CredrelayError(
        'INVALID_INPUT',
        'credHelpers in the Docker config is not an object; fix it by hand first',
      );
    }
    const helpers: Record<string, unknown> = {
      ...((current.credHelpers as Record<string, unknown> | undefined) ?? {}),
    };
    const replacedHelpers: Record<string, string | null> = {};
    for (const key of registries.flatMap(credHelperKeys)) {
      const previous = helpers[key];
      if (previous === HELPER_NAME) continue;
      helpers[key] = HELPER_NAME;
      replacedHelpers[key] = typeof previous === 'string' ? previous : null;
      changes.push(
        `set credHelpers["${key}"] to "${HELPER_NAME}"${previous === undefined ? '' : ` (was ${JSON.stringify(previous)})`}`,
      );
      if (typeof previous === 'string') warnings.push(`replacing the credential helper "${previous}" for ${key}`);
    }
    if (changes.length > 0) next.credHelpers = helpers;
    replaced = { credHelpers: replacedHelpers };
  }
  return { next, replaced, changes, warnings };
}

/**
 * Plans `configure-docker --undo`: every credrelay entry goes back to what it replaced (as recorded when it was
 * set), or is removed when nothing is recorded. Entries that no longer name credrelay are left as the user made them.
 */
export function planUndo(current: Record<string, unknown>, replaced: ReplacedHelpers): DockerConfigPlan {
  const next: Record<string, unknown> = { ...current };
  const changes: string[] = [];
  if (current.credsStore === HELPER_NAME) {
    const previous = replaced.credsStore ?? null;
    if (previous === null) {
      delete next.credsStore;
      changes.push('removed credsStore "credrelay"');
    } else {
      next.credsStore = previous;
      changes.push(`set credsStore back to ${JSON.stringify(previous)}`);
    }
  }
  if (isObject(current.credHelpers)) {
    const helpers: Record<string, unknown> = { ...current.credHelpers };
    for (const [key, helper] of Object.entries(current.credHelpers)) {
      if (helper !== HELPER_NAME) continue;
      const previous = replaced.credHelpers?.[key] ?? null;
      if (previous === null) {
        delete helpers[key];
        changes.push(`removed credHelpers["${key}"]`);
      } else {
        helpers[key] = previous;
        changes.push(`set credHelpers["${key}"] back to ${JSON.stringify(previous)}`);
      }
    }
    if (Object.keys(helpers).length === 0) delete next.credHelpers;
    else next.credHelpers = helpers;
  }
  return { next, replaced: {}, changes, warnings: [] };
}

/**
 * Where `configure-docker` records what it replaced in each Docker config, for `--undo`: credrelay's state
 * directory, not Docker's file (the docker CLI drops keys it does not know when it rewrites config.json).
 * It holds helper names only, never a credential.
 */
const replacedHelpersPath = (env: NodeJS.ProcessEnv = process.env): string => {
  const state = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(state, 'credrelay', 'docker-config-replaced.json');
};

type ReplacedRecord = Record<string, ReplacedHelpers>;

function readReplacedRecord(recordPath: string): ReplacedRecord {
  try {
    const record: unknown = JSON.parse(readFileSync(recordPath, 'utf8'));
    return isObject(record) ? (record as ReplacedRecord) : {};
  } catch {
    return {};
  }
}

/** What credrelay replaced in the Docker config at `path`. */
export const replacedHelpers = (path: string, recordPath = replacedHelpersPath()): ReplacedHelpers =>
  readReplacedRecord(recordPath)[path] ?? {};

/**
 * Records what a change replaced; the first value replaced is kept (a second run replaces "credrelay" with itself).
 * `forget` drops the config's record, after an undo.
 */
export function recordReplacedHelpers(
  path: string,
  replaced: ReplacedHelpers | 'forget',
  recordPath = replacedHelpersPath(),
): void {
  const record = readReplacedRecord(recordPath);
  if (replaced === 'forget') {
    if (!(path in record)) return;
    delete record[path];
  } else {
    const earlier = record[path] ?? {};
    const credsStore = earlier.credsStore !== undefined ? earlier.credsStore : replaced.credsStore;
    record[path] = {
      ...(credsStore !== undefined ? { credsStore } : {}),
      credHelpers: { ...(replaced.credHelpers ?? {}), ...(earlier.credHelpers ?? {}) },
    };
  }
  mkdirSync(dirname(recordPath), { recursive: true, mode: 0o700 });
  replaceFileAtomically(recordPath, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** Reads Docker's config; a missing file is an empty config, and invalid JSON an error (never overwritten). */
export function readDockerConfig(path: string): { config: Record<string, unknown>; text: string | undefined } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { config: {}, text: undefined };
    throw new CredrelayError(
      'INVALID_INPUT',
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let config: unknown;
  try {
    config = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new CredrelayError(
      'INVALID_INPUT',
      `${path} is not valid JSON; fix it first (credrelay does not overwrite a file it cannot read)`,
    );
  }
  if (!isObject(config)) throw new CredrelayError('INVALID_INPUT', `${path} does not hold a JSON object; fix it first`);
  return { config, text };
}

/**
 * Writes Docker's config atomically: a temporary file in the same directory, flushed, then renamed over the old
 * one, with the old file's permissions (0600 for a new one, as Docker creates it). The previous content is kept
 * next to it as `config.json.bak`. Docker writes this file tab-indented, and so does credrelay.
 *
 * `DOCKER_CONFIG` may be a directory others can write, where they can plant links. So every file is created
 * exclusively under a random name (O_EXCL never follows a link) and its mode set through its own descriptor, and
 * only then renamed into place (a rename replaces a planted link, never writes through it). A `config.json` that is
 * a link is followed only to a file the user owns, whose directory then receives the files; any other is refused.
 */
export function writeDockerConfig(
  path: string,
  config: Record<string, unknown>,
  hadFile: boolean,
): { backup: string | undefined } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const target = hadFile ? ownedTarget(path) : path;
  const mode = hadFile ? statSync(target).mode & 0o777 : 0o600;
  let backup: string | undefined;
  if (hadFile) {
    backup = `${target}.bak`;
    replaceFileAtomically(backup, readFileSync(target), mode);
  }
  replaceFileAtomically(target, `${JSON.stringify(config, null, '\t')}\n`, mode);
  return { backup };
}

/** The file a `config.json` link points to, if the user owns it; the path itself when it is not a link. */
function ownedTarget(path: string): string {
  if (!lstatSync(path).isSymbolicLink()) return path;
  const target = realpathSync(path);
  const uid = process.getuid?.();
  const owner = statSync(target).uid;
  if (uid !== undefined && owner !== uid) {
    throw new CredrelayError(
      'INVALID_INPUT',
      `${path} is a link to ${target}, which belongs to uid ${owner}, not to you: credrelay will not write there; replace the link with a file of your own`,
    );
  }
  return target;
}

/** The first `docker-credential-credrelay` on PATH: the one Docker will run. */
export const helperOnPath = (env: NodeJS.ProcessEnv = process.env): string | undefined =>
  findCredentialHelper(HELPER_NAME, env.PATH ?? '');
