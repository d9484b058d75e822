import { lstatSync } from 'node:fs';
import type { Server } from 'node:net';
import { CredrelayError } from '../core/errors.js';
import { socketInode, unixSockets } from '../core/util/process.js';

/**
 * A listening socket a service manager handed over (systemd's socket activation, sd_listen_fds(3)): the socket is
 * there before the daemon is, so the first request after boot connects at once and waits while systemd starts us,
 * instead of a client spawning a daemon.
 *
 * The protocol: LISTEN_PID names this process, LISTEN_FDS how many descriptors follow from 3. credrelay listens on
 * one socket, so exactly one is accepted. The variables are removed from the environment, as sd_listen_fds does, so
 * the programs the daemon runs (exec helpers) do not take the socket for theirs.
 */
interface InheritedSocket {
  readonly fd: number;
}

const FIRST_FD = 3;

export function takeInheritedSocket(env: NodeJS.ProcessEnv = process.env): InheritedSocket | undefined {
  const pid = env.LISTEN_PID;
  const count = env.LISTEN_FDS;
  for (const name of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete env[name];
  if (pid === undefined || count === undefined || pid !== String(process.pid)) return undefined;
  if (count !== '1')
    throw new CredrelayError(
      'DAEMON_UNSAFE',
      `refusing to start: the service manager handed over ${count} sockets (LISTEN_FDS), and credrelay listens on one: give the .socket unit a single ListenStream=`,
    );
  return { fd: FIRST_FD };
}

/**
 * Listens on the inherited socket, then makes sure it is the one this environment's clients connect to: a daemon on
 * another path would serve callers whose environment is not its own, and answer them as it would not in-process.
 */
export function listenInherited(server: Server, inherited: InheritedSocket, socketPath: string): Promise<void> {
  const bound = boundPath(inherited.fd);
  if (bound !== socketPath)
    return Promise.reject(
      new CredrelayError(
        'DAEMON_UNSAFE',
        `refusing to start: the service manager handed over ${bound === undefined ? 'a socket that is not a Unix socket with a path' : `the socket ${bound}`}, but the daemon for this environment listens on ${socketPath}: set ListenStream=${socketPath} in the .socket unit, and give the service the environment of the programs that ask (\`credrelay daemon status --json\` in their shell prints the path)`,
      ),
    );
  // Connections may have queued on the socket since the service manager made it, long before this daemon: if others
  // could connect to it (systemd makes sockets 0666 unless told SocketMode=0600), some of those may be another
  // user's, and nothing here can tell them apart (Node exposes no SO_PEERCRED). Such a socket is refused before
  // anything on it is read; tightening it now would not undo what queued before.
  const open = reachableByOthers(socketPath);
  if (open !== undefined)
    return Promise.reject(
      new CredrelayError(
        'DAEMON_UNSAFE',
        `refusing to start: the service manager's socket ${socketPath} ${open}, so connections of other users may be waiting on it: set SocketMode=0600 and DirectoryMode=0700 in the .socket unit`,
      ),
    );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd: inherited.fd }, () => resolve());
  });
}

/** How another user could connect to a socket file (write permission on it, for group or others), or undefined. */
function reachableByOthers(socketPath: string): string | undefined {
  const stats = lstatSync(socketPath, { throwIfNoEntry: false });
  if (stats === undefined) return 'is gone';
  if (stats.uid !== process.getuid?.()) return `belongs to uid ${stats.uid}`;
  const mode = stats.mode & 0o777;
  return (mode & 0o022) !== 0
    ? `is writable, so connectable, by others (mode ${mode.toString(8).padStart(4, '0')})`
    : undefined;
}

/**
 * The path a Unix socket descriptor is bound to (Node cannot ask getsockname of a descriptor it did not bind):
 * the socket's inode, from /proc/self/fd, looked up in the kernel's table of Unix sockets, /proc/net/unix.
 */
function boundPath(fd: number): string | undefined {
  // No /proc (not Linux): systemd is not there either, and both are undefined.
  const inode = socketInode('self', fd);
  return inode === undefined ? undefined : unixSockets({ listening: false }).get(inode) || undefined;
}
