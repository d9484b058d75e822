import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** Where credrelay keeps its files. Nothing here ever holds a secret. */
export interface CredrelayPaths {
  /** Private to the user (0700): the daemons' sockets, pid files and start locks. */
  readonly runtimeDir: string;
  /** Which environment the daemon at `socketPath` serves (see environmentFingerprint). */
  readonly environment: string;
  /** The environment a daemon for this caller is started with: the caller's relevant variables only. */
  readonly daemonEnvironment: Readonly<Record<string, string>>;
  readonly socketPath: string;
  readonly pidPath: string;
  /** Held (as a directory) by the one client that is starting the daemon. */
  readonly launchLockPath: string;
  /** The daemon's log, readable by the user only. */
  readonly logPath: string;
  readonly configPath: string;
  /** The encrypted file store (`"store": "file"`); every record in it is sealed. */
  readonly storePath: string;
}

/**
 * Resolves credrelay's paths from the environment, following the XDG base directories:
 * - runtime: `$CREDRELAY_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/credrelay`, else `$XDG_CACHE_HOME/credrelay/run`
 *   (`~/.cache/credrelay/run`; `~/Library/Caches/credrelay/run` on macOS);
 * - log: `$XDG_STATE_HOME/credrelay/daemon.log` (`~/.local/state/credrelay/daemon.log`);
 * - config: `$CREDRELAY_CONFIG`, else `$XDG_CONFIG_HOME/credrelay/config.json` (`~/.config/credrelay/config.json`);
 * - file store: `$XDG_DATA_HOME/credrelay/store.json` (`~/.local/share/credrelay/store.json`).
 */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): CredrelayPaths {
  const home = homedir();
  const xdg = (name: string, fallback: string): string => {
    const value = env[name];
    // The XDG spec says relative paths are invalid and must be ignored.
    return value !== undefined && value.startsWith('/') ? value : fallback;
  };
  const cacheHome = xdg(
    'XDG_CACHE_HOME',
    process.platform === 'darwin' ? join(home, 'Library', 'Caches') : join(home, '.cache'),
  );
  const runtimeDir =
    env.CREDRELAY_RUNTIME_DIR ||
    (xdg('XDG_RUNTIME_DIR', '') ? join(xdg('XDG_RUNTIME_DIR', ''), 'credrelay') : join(cacheHome, 'credrelay', 'run'));
  const stateHome = xdg('XDG_STATE_HOME', join(home, '.local', 'state'));
  const configHome = xdg('XDG_CONFIG_HOME', join(home, '.config'));
  const dataHome = xdg('XDG_DATA_HOME', join(home, '.local', 'share'));
  const configPath = env.CREDRELAY_CONFIG || join(configHome, 'credrelay', 'config.json');
  const daemonEnvironment = relevantEnvironment(env, configPath);
  const environment = environmentFingerprint(daemonEnvironment);
  return {
    runtimeDir,
    environment,
    socketPath:
      process.platform === 'win32'
        ? `\\\\.\\pipe\\credrelay-${userInfo().username}-${environment}`
        : join(runtimeDir, `${SOCKET_PREFIX}${environment}${SOCKET_SUFFIX}`),
    pidPath: join(runtimeDir, `daemon-${environment}.pid`),
    launchLockPath: join(runtimeDir, `launch-${environment}.lock`),
    logPath: join(stateHome, 'credrelay', 'daemon.log'),
    configPath,
    daemonEnvironment,
    storePath: join(dataHome, 'credrelay', 'store.json'),
  };
}

/**
 * What a wrapped program (a `docker-credential-…` helper, `gh`) is run with: the environment any program needs
 * (home, user, PATH, locale, the session bus, proxies and CA files, the XDG directories), never the cloud SDKs' or
 * the GitHub CLI's credentials, which are other providers'. A program that needs more has it named in the
 * configuration (`"environment": ["AWS_PROFILE", "PASSWORD_STORE_*"]`), or by its provider (`extra`).
 */
const PROGRAM_BASE_NAMES: ReadonlySet<string> = new Set([
  'HOME',
  'USER',
  'LOGNAME',
  'PATH',
  'TZ',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_MESSAGES',
  'DBUS_SESSION_BUS_ADDRESS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'XDG_RUNTIME_DIR',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'XDG_STATE_HOME',
  'XDG_DATA_HOME',
]);

/** What the GitHub CLI reads for its token and host: the ghcr provider runs `gh` with these beside the base. */
export const GITHUB_CLI_VARIABLES = [
  'GH_TOKEN',
  'GH_ENTERPRISE_TOKEN',
  'GH_HOST',
  'GH_CONFIG_DIR',
  'GITHUB_TOKEN',
  'GITHUB_ENTERPRISE_TOKEN',
] as const;

/**
 * Variables that can change an answer, by exact name: those credrelay, its keychain module, the GitHub CLI and the
 * programs it wraps read. Not the per-step bookkeeping of a CI runner (`GITHUB_ACTION`, `GITHUB_OUTPUT`, ...), not
 * `TMPDIR` (buildah and podman set their own; nothing credrelay answers depends on it), not the client's own knobs
 * (`CREDRELAY_NATIVE`, `CREDRELAY_NO_DAEMON`): each of those would start a daemon per step or per engine.
 */
export const RELEVANT_NAMES: ReadonlySet<string> = new Set([
  // What any program needs, wrapped ones included (their messages' locale among it).
  ...PROGRAM_BASE_NAMES,
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  // credrelay's own: where its files are, and how much its daemon logs.
  'CREDRELAY_CONFIG',
  'CREDRELAY_RUNTIME_DIR',
  'CREDRELAY_STORE_KEY_FILE',
  'CREDRELAY_LOG_LEVEL',
  // google-auth-library: the metadata server, and how it tells Cloud Run, Functions, App Engine and GKE apart.
  'METADATA_SERVER_DETECTION',
  'K_SERVICE',
  'K_CONFIGURATION',
  'FUNCTION_NAME',
  'FUNCTION_TARGET',
  'GAE_SERVICE',
  'GAE_APPLICATION',
  'KUBERNETES_SERVICE_HOST',
  // Azure managed identity (App Service, Arc, Cloud Shell).
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'IDENTITY_SERVER_THUMBPRINT',
  'IMDS_ENDPOINT',
  // GitHub: the CLI's token and host, ghcr's user, and a job's OIDC token request and identity (constant within a job).
  ...GITHUB_CLI_VARIABLES,
  'GITHUB_ACTOR',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_RUN_ATTEMPT',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  // GitLab: a job's project and pipeline, for the session name of `jobIdentity` (its token variable is named in the
  // configuration).
  'CI_PROJECT_PATH',
  'CI_PIPELINE_ID',
]);

/**
 * ...and by prefix, only where a cloud SDK reads a family of names no list keeps up with
 * (`AWS_ENDPOINT_URL_<SERVICE>`, `CLOUDSDK_<SECTION>_<PROPERTY>`, `GCE_METADATA_*`, the Azure SDK's `AZURE_*`).
 */
export const RELEVANT_PREFIXES: readonly string[] = ['AWS_', 'GOOGLE_', 'GCE_', 'CLOUDSDK_', 'AZURE_'];

export function wrappedProgramEnvironment(
  env: NodeJS.ProcessEnv,
  configPath: string,
  extra: readonly string[] = [],
): Record<string, string> {
  const named = namesInConfig(configPath);
  const picked: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined) continue;
    if (
      PROGRAM_BASE_NAMES.has(name) ||
      extra.includes(name) ||
      named.names.has(name) ||
      named.prefixes.some((prefix) => name.startsWith(prefix))
    )
      picked[name] = value;
  }
  return picked;
}

/**
 * Every identifier-shaped string in the configuration, with or without `$`, as a name a route may read; and every
 * `NAME_*` string (from `"environment"`) as a prefix. Read as text, not parsed: the protocol path stays cheap, and
 * naming more than needed only tells environments apart more finely.
 */
function namesInConfig(configPath: string): { names: Set<string>; prefixes: string[] } {
  let text: string;
  if (!isAbsolute(configPath)) return { names: new Set(), prefixes: [] }; // refused when loaded
  try {
    text = readFileSync(configPath, 'utf8');
  } catch {
    return { names: new Set(), prefixes: [] };
  }
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const [, name, star] of text.matchAll(/"\$?([A-Za-z_][A-Za-z0-9_]*)(\*)?"/g)) {
    if (star) prefixes.push(name!);
    else names.add(name!);
  }
  return { names, prefixes };
}

/**
 * The part of an environment that can change an answer: the variables credrelay and the libraries it runs read (by
 * name and by prefix), and every variable the configuration names (`"$DOCKERHUB_TOKEN"`, `"keySecret":
 * "GOOGLE_AR_KEY"`, `"environment": ["CI_JOB_TOKEN", "CORP_*"]`). A daemon is started with exactly this environment, so it holds no other variable of its first
 * caller, and every caller whose relevant environment is the same gets the same answers from it.
 */
export function relevantEnvironment(env: NodeJS.ProcessEnv, configPath: string): Record<string, string> {
  const named = namesInConfig(configPath);
  const prefixes = [...RELEVANT_PREFIXES, ...named.prefixes];
  const relevant: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined) continue;
    if (RELEVANT_NAMES.has(name) || named.names.has(name) || prefixes.some((prefix) => name.startsWith(prefix)))
      relevant[name] = value;
  }
  return relevant;
}

/**
 * Which environment a daemon serves: a hash of the relevant environment. Each relevant environment gets a daemon of
 * its own (its socket, pid file and start lock carry this fingerprint), so that through the daemon every caller is
 * answered exactly as it would be in-process in its own environment: its own `$NAME` secrets, AWS and Google
 * credentials, D-Bus session and key file, and a token cache no other environment shares. Variables nothing reads
 * (a tool's per-run counter, the shell's bookkeeping) do not start a daemon each. A hash, not the values: the names
 * of files in the runtime directory must not show what the environment holds.
 */
export function environmentFingerprint(relevant: Readonly<Record<string, string>>): string {
  let text = '';
  for (const [name, value] of Object.entries(relevant)) text += `${name}\0${value}\0`;
  return hash64(text);
}

/** Node's names for processors, as the kernel names them (/proc/sys/kernel/arch, `uname -m`). */
const KERNEL_MACHINE: Readonly<Record<string, string>> = {
  x64: 'x86_64',
  arm64: 'aarch64',
  arm: 'armv7l',
  ia32: 'i686',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

/**
 * Where the build puts the native client for this machine in a package (or checkout) at `packageRoot`, named as
 * bin/docker-credential-credrelay looks for it: dist/native/<platform>-<machine>/.
 */
export function nativeClientDirectory(packageRoot: string): string {
  return join(packageRoot, 'dist', 'native', `${process.platform}-${KERNEL_MACHINE[process.arch] ?? process.arch}`);
}

/** The fingerprint hash's constants, which the native client gets from them at build (src/native/native-config.ts). */
export const FINGERPRINT_HASH = {
  seeds: [0xdeadbeef, 0x41c6ce57],
  multipliers: [2654435761, 1597334677],
  mixers: [2246822507, 3266489909],
} as const;

/** A daemon's socket in the runtime directory: this, the environment's fingerprint, then SOCKET_SUFFIX. */
export const SOCKET_PREFIX = 'daemon-';
export const SOCKET_SUFFIX = '.sock';

/**
 * 64 bits of two independent 32-bit multiplicative hashes, as 16 hex digits. Not node:crypto: loading it costs the
 * protocol path several milliseconds, and nothing here needs a cryptographic hash. The runtime directory is private
 * to the user, and the fingerprint only tells environments apart.
 */
function hash64(text: string): string {
  const { seeds, multipliers, mixers } = FINGERPRINT_HASH;
  let h1: number = seeds[0];
  let h2: number = seeds[1];
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    h1 = Math.imul(h1 ^ code, multipliers[0]);
    h2 = Math.imul(h2 ^ code, multipliers[1]);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), mixers[0]) ^ Math.imul(h2 ^ (h2 >>> 13), mixers[1]);
  h2 = Math.imul(h2 ^ (h2 >>> 16), mixers[0]) ^ Math.imul(h1 ^ (h1 >>> 13), mixers[1]);
  return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
}
