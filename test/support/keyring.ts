import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCredrelayDaemon } from '../../src/core/util/process.js';
import { daemonPids } from './daemon.js';
import { makeTempDir } from './temp.js';
import { waitFor } from './wait.js';

/**
 * A user session of its own: a real gnome-keyring on a private D-Bus session bus, as a desktop session would have,
 * and private XDG directories, so that a credrelay daemon started in it serves this session only.
 */
export interface Keyring {
  /** Environment that points the keychain module, secret-tool, the Go helpers and credrelay's daemon at this session. */
  readonly env: Record<string, string>;
  readonly home: string;
  /** credrelay's runtime directory in this session (where the daemon's socket appears). */
  readonly runtimeDir: string;
  /** Every directory of the session, for tests that search them for leaked secrets. */
  readonly root: string;
  /** Lists what the keyring holds for `service` (secrets and attributes), through libsecret's own tool. */
  search(service: string): string;
  /** Stops gnome-keyring's process (SIGSTOP): calls to it hang until `resume`, as with a wedged keyring. */
  pause(): void;
  resume(): void;
  /** Locks the login collection, as a screen lock or a timeout does; its items stay, unreadable. */
  lock(): void;
  /** Stops gnome-keyring (the bus stays): the Secret Service goes away under whoever uses it. */
  stopSecretService(): Promise<void>;
  /** Starts gnome-keyring again, unlocked, with the same keyrings. */
  startSecretService(): Promise<void>;
  /** Kills the session bus itself (gnome-keyring goes with it), then starts both again at the same address. */
  restartBus(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The states a desktop keyring is found in:
 * - `unlocked`: a login collection, unlocked (a logged-in desktop);
 * - `locked`: a login collection that exists but was not unlocked;
 * - `no-login-collection`: the Secret Service runs but no collection was ever created;
 * - `no-secret-service`: a session bus on which nothing provides org.freedesktop.secrets, not even by activation.
 */
export type KeyringState = 'unlocked' | 'locked' | 'no-login-collection' | 'no-secret-service';

const KEYRING_PASSWORD = 'credrelay-test-login';

/** A session bus with no service directories, so nothing is started by activation. */
const busConfig = (
  address: string,
): string => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${address}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;

export async function startKeyring(state: KeyringState = 'unlocked'): Promise<Keyring> {
  const dir = makeTempDir('keyring');
  const home = join(dir.path, 'home');
  mkdirSync(home);
  const address = `unix:path=${join(dir.path, 'bus.sock')}`;
  const config = join(dir.path, 'bus.conf');
  writeFileSync(config, busConfig(address));
  const startBus = (): number =>
    Number(
      execFileSync('dbus-daemon', [`--config-file=${config}`, '--fork', '--nopidfile', '--print-pid=1'], {
        encoding: 'utf8',
      }).trim(),
    );
  let dbusPid = startBus();
  const xdgRuntime = join(dir.path, 'run');
  mkdirSync(xdgRuntime, { mode: 0o700 });
  const env = {
    DBUS_SESSION_BUS_ADDRESS: address,
    HOME: home,
    XDG_RUNTIME_DIR: xdgRuntime,
    XDG_STATE_HOME: join(dir.path, 'state'),
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    XDG_CACHE_HOME: join(dir.path, 'cache'),
    // gnome-keyring keeps its keyrings under $XDG_DATA_HOME/keyrings: never the user's.
    XDG_DATA_HOME: join(dir.path, 'data'),
  };
  const runtimeDir = join(xdgRuntime, 'credrelay');
  let keyring: ChildProcess | undefined;

  const startDaemon = async (unlock: boolean): Promise<ChildProcess> => {
    const child = spawn(
      'gnome-keyring-daemon',
      ['--foreground', ...(unlock ? ['--unlock'] : []), '--components=secrets'],
      { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'ignore'] },
    );
    // The login password travels on stdin, never as an argument.
    child.stdin?.end(unlock ? KEYRING_PASSWORD : '');
    await waitFor('gnome-keyring to own org.freedesktop.secrets', () => secretServiceIsUp(address));
    return child;
  };
  const stopDaemon = async (child: ChildProcess): Promise<void> => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };

  if (state === 'unlocked') keyring = await startDaemon(true);
  if (state === 'no-login-collection') keyring = await startDaemon(false);
  if (state === 'locked') {
    // Create the login collection, then come back without the password: it is on disk, locked.
    await stopDaemon(await startDaemon(true));
    keyring = await startDaemon(false);
  }

  return {
    env,
    home,
    runtimeDir,
    root: dir.path,
    search(service) {
      // secret-tool prints secrets on stdout and attributes on stderr.
      const result = spawnSync('secret-tool', ['search', '--all', 'service', service], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      return `${result.stdout}${result.stderr}`;
    },
    pause() {
      keyring?.kill('SIGSTOP');
    },
    resume() {
      keyring?.kill('SIGCONT');
    },
    lock() {
      execFileSync('dbus-send', [
        `--bus=${address}`,
        '--print-reply',
        '--dest=org.freedesktop.secrets',
        '/org/freedesktop/secrets',
        'org.freedesktop.Secret.Service.Lock',
        'array:objpath:/org/freedesktop/secrets/collection/login',
      ]);
    },
    async stopSecretService() {
      if (keyring) await stopDaemon(keyring);
      keyring = undefined;
    },
    async startSecretService() {
      keyring ??= await startDaemon(true);
    },
    async restartBus() {
      const exited = keyring ? new Promise((resolve) => keyring!.once('exit', resolve)) : Promise.resolve();
      process.kill(dbusPid, 'SIGKILL');
      await exited; // gnome-keyring leaves when its bus does
      keyring = undefined;
      rmSync(join(dir.path, 'bus.sock'), { force: true });
      dbusPid = startBus();
      keyring = await startDaemon(true);
    },
    async stop() {
      keyring?.kill('SIGCONT');
      await stopCredrelayDaemon(runtimeDir);
      if (keyring) await stopDaemon(keyring);
      try {
        process.kill(dbusPid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      dir.remove();
    },
  };
}

/** Whether something owns the Secret Service name on the bus (asked without activating anything). */
function secretServiceIsUp(address: string): boolean {
  const result = spawnSync(
    'dbus-send',
    [
      '--bus=' + address,
      '--print-reply',
      '--dest=org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus.NameHasOwner',
      'string:org.freedesktop.secrets',
    ],
    { encoding: 'utf8' },
  );
  return /boolean true/.test(result.stdout);
}

/**
 * Stops every credrelay daemon of a runtime directory (one per environment), and waits until they have exited. Only
 * pids that are credrelay daemons are signalled: a pid file left behind can name a pid the system has since given to
 * another process (the session's gnome-keyring, say).
 */
export async function stopCredrelayDaemon(runtimeDir: string): Promise<void> {
  await Promise.all(
    daemonPids(runtimeDir)
      .filter((pid) => isCredrelayDaemon(pid))
      .map((pid) => stopDaemonProcess(pid)),
  );
}

async function stopDaemonProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGCONT'); // In case a test left it stopped.
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  await waitFor('the credrelay daemon to exit', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }).catch(() => process.kill(pid, 'SIGKILL'));
}
