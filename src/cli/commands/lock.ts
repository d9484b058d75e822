import { CredrelayCommand } from '../shared/base-command.js';
import { resolvePaths } from '../../core/paths.js';
import { packageVersion } from '../../core/version.js';
import { otherDaemons } from '../../core/wire/daemon-room.js';
import { sendRequest } from '../../core/wire/transport.js';

export default class LockCommand extends CredrelayCommand {
  static override summary = 'Lock the encrypted file store: every daemon of yours forgets its key.';
  static override description =
    'Every daemon of this user is asked, whatever environment it serves and whatever runtime directory it uses (found through /proc on Linux), so that a key unlocked from another shell is forgotten too. Requests that need the file store then fail with "run `credrelay unlock`", unless CREDRELAY_STORE_KEY_FILE names a key file. Locking when nothing is unlocked is not an error.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    await this.parse(LockCommand); // oclif warns about a command that never parses its arguments
    const paths = resolvePaths();
    // Every daemon of this user, whatever runtime directory it uses: a key unlocked from a shell with another
    // XDG_RUNTIME_DIR (an ssh session, a container) must be forgotten too.
    const sockets = new Set([paths.socketPath]);
    for (const daemon of otherDaemons(paths)) if (daemon.socketPath !== undefined) sockets.add(daemon.socketPath);
    const answers = await Promise.all(
      [...sockets].map((socketPath) =>
        sendRequest(socketPath, { v: packageVersion(), op: 'lock' }).then(
          (reply) => reply.ok && reply.result.wasUnlocked,
          () => false, // no daemon there, or it does not answer: it holds nothing we can reach
        ),
      ),
    );
    const locked = answers.filter(Boolean).length;
    this.log(
      locked === 0
        ? 'nothing was unlocked'
        : `locked: ${locked === 1 ? 'the daemon' : `${locked} daemons`} forgot the file store key`,
    );
  }
}
