import { readFileSync } from 'node:fs';
import { CredrelayError } from './errors.js';

/** credrelay's configuration, validated once at load and then frozen. */
export interface Config {
  readonly daemon: {
    /** The daemon exits after this long without a request. */
    readonly idleTimeoutSeconds: number;
  };
}

export const DEFAULT_IDLE_TIMEOUT_SECONDS = 30 * 60;

export const DEFAULT_CONFIG: Config = Object.freeze({
  daemon: Object.freeze({ idleTimeoutSeconds: DEFAULT_IDLE_TIMEOUT_SECONDS }),
});

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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_CONFIG;
    throw new CredrelayError(
      'CONFIG_INVALID',
      `cannot read the configuration file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw invalid(path, 'the file', 'is not valid JSON; fix it or remove it to use the defaults');
  }
  return parseConfig(document, path);
}

/** Validates a parsed configuration document; `path` only names the source in error messages. */
export function parseConfig(document: unknown, path = 'the configuration'): Config {
  if (!isPlainObject(document)) throw invalid(path, 'the top level', 'must be a JSON object');
  for (const key of Object.keys(document)) {
    if (key !== 'daemon')
      throw invalid(path, `the key ${JSON.stringify(key)}`, 'is not known; the known top-level key is "daemon"');
  }
  let idleTimeoutSeconds = DEFAULT_IDLE_TIMEOUT_SECONDS;
  if (document.daemon !== undefined) {
    if (!isPlainObject(document.daemon))
      throw invalid(path, '"daemon"', 'must be an object such as {"idleTimeoutSeconds": 1800}');
    for (const [key, value] of Object.entries(document.daemon)) {
      if (key !== 'idleTimeoutSeconds')
        throw invalid(path, `"daemon.${key}"`, 'is not known; the known key is "daemon.idleTimeoutSeconds"');
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw invalid(path, '"daemon.idleTimeoutSeconds"', 'must be a positive number of seconds, for example 1800');
      }
      idleTimeoutSeconds = value;
    }
  }
  return Object.freeze({ daemon: Object.freeze({ idleTimeoutSeconds }) });
}
