import { CredrelayCommand } from '../shared/base-command.js';
import { resolvePaths } from '../../core/paths.js';
import { packageVersion } from '../../core/version.js';
import { otherDaemons } from '../../core/wire/daemon-room.js';
import { sendRequest } from '../../core/wire/transport.js';

export default class LockCommand extends CredrelayCommand {
  static override summary = 'Lock the encrypted file store: every daemon of yours forgets its key.';
  static override description =
    'Every daemon of this user in the runtime directory is asked, whatever environment it serves, so that a key unlocked from another shell is forgotten too. Requests that need the file store then fail with "run `credrelay unlock`", unless CREDRELAY_STORE_KEY_FILE names a key file. Locking when nothing is unlocked is not an error.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    await this.parse(LockCommand); // oclif warns about a command that never parses its arguments
    const paths = resolvePaths();
    const sockets = new Set([paths.socketPath, ...otherDaemons(paths).map((daemon) => daemon.socketPath)]);
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
