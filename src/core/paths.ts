import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** Where credrelay keeps its files. Nothing here ever holds a secret. */
export interface CredrelayPaths {
  /** Private to the user (0700): the daemons' sockets, pid files and start locks. */
  readonly runtimeDir: string;
  /** Which environment the daemon at `socketPath` serves (see environmentFingerprint). */
  readonly environment: string;
  /** The environment a daemon for this caller is started with: the relevant environment (NODE_OPTIONS narrowed). */
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
  const daemonEnvironment = relevantEnvironment(env);
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
 * Variables that cannot change an answer, each with the reason: everything else a caller's environment holds makes
 * its environment, so a variable nobody listed (a cloud SDK's new one, a lowercase spelling, a plugin's) separates
 * callers by construction. Exact names, case and all. These are what would otherwise start a daemon per shell, per
 * step or per engine; test/unit/environment-scan.test.ts fails when a bundled SDK reads one of them.
 */
/**
 * What the native client sets when it hands a request over to the Node client after the daemon acknowledged it and
 * then did not answer: the Node client answers in-process at once rather than ask that daemon again.
 */
export const HANDOVER_VARIABLE = 'CREDRELAY_HANDOVER';
export const HANDOVER_AFTER_ACK = 'acknowledged';

export const IGNORED_VARIABLES: Readonly<Record<string, string>> = {
  _: 'the shell sets it to the program it starts (docker, skopeo, podman): a different value for every caller',
  PWD: "the shell's working directory, not read: the daemon runs in /, and relative paths in variables are refused",
  OLDPWD: "the shell's previous working directory",
  SHLVL: 'how deeply shells are nested',
  TERM: 'the terminal type: nothing credrelay answers is drawn on a terminal',
  COLORTERM: 'the terminal type',
  TERM_PROGRAM: 'the terminal program',
  TERM_PROGRAM_VERSION: 'the terminal program',
  COLUMNS: 'the terminal width',
  LINES: 'the terminal height',
  TMUX_PANE: 'the terminal multiplexer pane',
  WINDOWID: 'the terminal window',
  TMPDIR: 'buildah and podman run helpers with TMPDIR=/var/tmp; no answer is made from a temporary file',
  CREDRELAY_NATIVE: "the client's own knob (native client or not): the answer is the same",
  CREDRELAY_NO_DAEMON: "the client's own knob (daemon or in-process): the answer is the same",
  [HANDOVER_VARIABLE]: "the native client's note to the Node client (answer in-process): the answer is the same",
  INVOCATION_ID: 'systemd sets it for each run of a service (a socket-activated daemon)',
  JOURNAL_STREAM: "systemd's log stream of a service",
  MANAGER_PID: "the systemd user manager's pid",
  SYSTEMD_EXEC_PID: "the pid systemd started a service's process as",
  LISTEN_PID: 'socket activation: taken by the daemon, never a caller',
  LISTEN_FDS: 'socket activation: taken by the daemon, never a caller',
  LISTEN_FDNAMES: 'socket activation: taken by the daemon, never a caller',
  GITHUB_ACTION: 'GitHub Actions sets it afresh for every step of a job',
  GITHUB_ACTION_PATH: 'GitHub Actions sets it afresh for every step of a job',
  GITHUB_ACTION_REF: 'GitHub Actions sets it afresh for every step of a job',
  GITHUB_ACTION_REPOSITORY: 'GitHub Actions sets it afresh for every step of a job',
  GITHUB_OUTPUT: "a step's file commands, set afresh for every step",
  GITHUB_STATE: "a step's file commands, set afresh for every step",
  GITHUB_ENV: "a step's file commands, set afresh for every step",
  GITHUB_PATH: "a step's file commands, set afresh for every step",
  GITHUB_STEP_SUMMARY: "a step's file commands, set afresh for every step",
};

/**
 * ...and by prefix: an action's inputs, set afresh for every step of a GitHub Actions job that uses an action. (Not
 * `STATE_*`, an action's saved state: it is set for post steps only, and names like `STATE_BUCKET` are users' own.)
 */
export const IGNORED_PREFIXES: Readonly<Record<string, string>> = {
  INPUT_: "a GitHub Actions step's inputs, set afresh for every step that uses an action",
};

/** Whether a variable is one of those that cannot change an answer (IGNORED_VARIABLES, IGNORED_PREFIXES). */
export function isIgnoredVariable(name: string): boolean {
  return (
    Object.hasOwn(IGNORED_VARIABLES, name) || Object.keys(IGNORED_PREFIXES).some((prefix) => name.startsWith(prefix))
  );
}

/**
 * What a wrapped program (a `docker-credential-…` helper, `gh`) is run with: the environment any program needs
 * (home, user, PATH, locale, the session bus, proxies and CA files, the XDG directories), never the cloud SDKs'
 * credentials, which are other providers'. A program that needs more has it named in the configuration
 * (`"environment": ["AWS_PROFILE", "PASSWORD_STORE_*"]`), or by its provider (`extra`, as the provider declares it).
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
 * `NAME_*` string (from `"environment"`) as a prefix. Read as text, not parsed: naming more than needed only passes
 * a wrapped program a variable more.
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
 * The part of an environment that can change an answer: all of it, less the variables known not to
 * (IGNORED_VARIABLES, IGNORED_PREFIXES). A daemon serves exactly one such environment and is started with it, so
 * a caller whose environment differs in anything else (a variable an SDK reads that no list names, a secret, a
 * profile, a key file's name) gets another daemon, with caches no other environment shares.
 */
export function relevantEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const relevant: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = name === 'NODE_OPTIONS' ? daemonNodeOptions(env[name]) : env[name];
    if (value === undefined || name === '' || isIgnoredVariable(name)) continue;
    relevant[name] = value;
  }
  return relevant;
}

/**
 * Node's options a daemon may inherit from its callers' NODE_OPTIONS, and the only ones that tell environments
 * apart: those that change how it reaches the network (CA stores, DNS order, TLS versions) or its memory. Never an
 * inspector, `--require`/`--import` or a loader: a debugger port or preloaded code would open the daemon's memory
 * (its secrets) to others. Such options are the caller's own debugging of its own process, and the daemon answers
 * without them.
 */
const DAEMON_NODE_OPTIONS = [
  /^--use-(openssl|bundled|system)-ca$/,
  /^--dns-result-order=(ipv4first|ipv6first|verbatim)$/,
  /^--tls-(min|max)-v1\.[0-3]$/,
  /^--openssl-legacy-provider$/,
  /^--max-old-space-size=\d+$/,
];

/** A NODE_OPTIONS value with only the options a daemon may take (DAEMON_NODE_OPTIONS); undefined when none is left. */
export function daemonNodeOptions(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const kept = value
    .split(/\s+/)
    .filter((option) => option !== '' && DAEMON_NODE_OPTIONS.some((allowed) => allowed.test(option)));
  return kept.length > 0 ? kept.join(' ') : undefined;
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
