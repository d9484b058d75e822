import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp.js';
import { waitFor } from './wait.js';

/** A real gnome-keyring on a private D-Bus session bus, as a desktop session would have. */
export interface Keyring {
  /** Environment that points keytar, secret-tool and the Go helpers at this keyring. */
  readonly env: Record<string, string>;
  readonly home: string;
  /** Lists what the keyring holds for `service` (secrets and attributes), through libsecret's own tool. */
  search(service: string): string;
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
const busConfig = (address: string): string => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
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
  const dbusPid = Number(
    execFileSync('dbus-daemon', [`--config-file=${config}`, '--fork', '--nopidfile', '--print-pid=1'], {
      encoding: 'utf8',
    }).trim(),
  );
  const env = { DBUS_SESSION_BUS_ADDRESS: address, HOME: home };
  let keyring: ChildProcess | undefined;

  const startDaemon = async (unlock: boolean): Promise<ChildProcess> => {
    const envFile = join(dir.path, 'gkd.env');
    rmSync(envFile, { force: true });
    const child = spawn(
      'sh',
      ['-c', `exec gnome-keyring-daemon --foreground ${unlock ? '--unlock' : ''} --components=secrets >"$1" 2>"$1.log"`, 'sh', envFile],
      { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'ignore'] },
    );
    // The login password travels on stdin, never as an argument.
    child.stdin?.end(unlock ? KEYRING_PASSWORD : '');
    await waitFor('gnome-keyring to start', () => existsSync(envFile) && readFileSync(envFile, 'utf8').includes('GNOME_KEYRING_CONTROL'));
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
    search(service) {
      // secret-tool prints secrets on stdout and attributes on stderr.
      const result = spawnSync('secret-tool', ['search', '--all', 'service', service], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      return `${result.stdout}${result.stderr}`;
    },
    async stop() {
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
