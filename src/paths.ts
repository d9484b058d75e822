import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Where credrelay keeps its files. Nothing here ever holds a secret. */
export interface CredrelayPaths {
  /** Private to the user (0700): the daemon's socket, pid file and start lock. */
  readonly runtimeDir: string;
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
  return {
    runtimeDir,
    socketPath:
      process.platform === 'win32' ? `\\\\.\\pipe\\credrelay-${userInfo().username}` : join(runtimeDir, 'daemon.sock'),
    pidPath: join(runtimeDir, 'daemon.pid'),
    launchLockPath: join(runtimeDir, 'launch.lock'),
    logPath: join(stateHome, 'credrelay', 'daemon.log'),
    configPath: env.CREDRELAY_CONFIG || join(configHome, 'credrelay', 'config.json'),
    storePath: join(dataHome, 'credrelay', 'store.json'),
  };
}
