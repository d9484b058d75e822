import { createHash } from 'node:crypto';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Where credrelay keeps its files. Nothing here ever holds a secret. */
export interface CredrelayPaths {
  /** Private to the user (0700): the daemons' sockets, pid files and start locks. */
  readonly runtimeDir: string;
  /** Which environment the daemon at `socketPath` serves (see environmentFingerprint). */
  readonly environment: string;
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
  const environment = environmentFingerprint(env);
  return {
    runtimeDir,
    environment,
    socketPath:
      process.platform === 'win32'
        ? `\\\\.\\pipe\\credrelay-${userInfo().username}-${environment}`
        : join(runtimeDir, `daemon-${environment}.sock`),
    pidPath: join(runtimeDir, `daemon-${environment}.pid`),
    launchLockPath: join(runtimeDir, `launch-${environment}.lock`),
    logPath: join(stateHome, 'credrelay', 'daemon.log'),
    configPath: env.CREDRELAY_CONFIG || join(configHome, 'credrelay', 'config.json'),
    storePath: join(dataHome, 'credrelay', 'store.json'),
  };
}

/**
 * Variables that change from one command to the next in the same session and that nothing credrelay runs reads:
 * the shell's bookkeeping and the terminal's. Every other variable can change an answer (a `$NAME` reference can
 * name any of them; the cloud SDKs read dozens), so every other variable is part of the fingerprint.
 */
const VOLATILE_VARIABLES = new Set([
  '_',
  'PWD',
  'OLDPWD',
  'SHLVL',
  'TERM',
  'TERM_PROGRAM',
  'TERM_PROGRAM_VERSION',
  'TERM_SESSION_ID',
  'COLORTERM',
  'COLUMNS',
  'LINES',
  'PS1',
  'PS2',
  'PS4',
  'PROMPT_COMMAND',
  'HISTFILE',
  'HISTSIZE',
  'HISTFILESIZE',
  'HISTCONTROL',
  'LS_COLORS',
  'WINDOWID',
  'SSH_TTY',
  'TMUX_PANE',
  'VTE_VERSION',
]);

/**
 * Which environment a daemon serves: a hash of every variable but the volatile ones. Each environment gets a daemon
 * of its own (its socket and pid file carry this fingerprint), so that through the daemon every caller is answered
 * exactly as it would be in-process in its own environment: its own `$NAME` secrets, AWS and Google credentials,
 * D-Bus session and key file, and a token cache no other environment shares. A hash, not the values: the names
 * of files in the runtime directory must not tell what the environment holds.
 */
export function environmentFingerprint(env: NodeJS.ProcessEnv): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined || VOLATILE_VARIABLES.has(name)) continue;
    hash.update(name).update('\0').update(value).update('\0');
  }
  return hash.digest('base64url').slice(0, 16);
}
