/**
 * Whether the Secret Service's default collection is locked (Linux only), for `credrelay doctor`.
 *
 * A locked collection still answers searches, so listing an empty one succeeds and a registry never stored is
 * "not found", which is the truth; but nothing can be stored there. The keychain module cannot ask about the lock
 * itself, so doctor asks the Secret Service directly. dbus-send ships with every D-Bus install (dbus-bin); it never
 * sees a secret.
 *
 * Returns undefined when it cannot tell (no collection yet, not Linux, dbus-send missing).
 */
/** Where dbus-send lives; the standard places first, because a helper may run with a minimal PATH. */
import { findOnPath } from '../util/credential-helper-path.js';

const DBUS_SEND_CANDIDATES = ['/usr/bin/dbus-send', '/bin/dbus-send'];

export async function isDefaultCollectionLocked(timeoutMs: number): Promise<boolean | undefined> {
  if (process.platform !== 'linux') return undefined;
  const [{ execFile }, { existsSync }] = await Promise.all([import('node:child_process'), import('node:fs')]);
  // Never by a bare name: a relative or empty PATH entry would run a `dbus-send` from the caller's directory.
  const dbusSend = DBUS_SEND_CANDIDATES.find((path) => existsSync(path)) ?? findOnPath('dbus-send');
  if (dbusSend === undefined) return undefined;
  return new Promise((resolve) => {
    execFile(
      dbusSend,
      [
        '--session',
        '--print-reply',
        `--reply-timeout=${timeoutMs}`,
        '--dest=org.freedesktop.secrets',
        '/org/freedesktop/secrets/aliases/default',
        'org.freedesktop.DBus.Properties.Get',
        'string:org.freedesktop.Secret.Collection',
        'string:Locked',
      ],
      { timeout: timeoutMs + 500, encoding: 'utf8' },
      (error, stdout) => {
        if (error) return resolve(undefined);
        const match = /boolean (true|false)/.exec(stdout);
        resolve(match ? match[1] === 'true' : undefined);
      },
    );
  });
}
