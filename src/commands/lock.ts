import { CredrelayCommand } from '../cli/base-command.js';
import { askDaemon } from '../cli/daemon-connection.js';

export default class LockCommand extends CredrelayCommand {
  static override summary = 'Lock the encrypted file store: the daemon forgets its key.';
  static override description =
    'Requests that need the file store then fail with "run `credrelay unlock`", unless CREDRELAY_STORE_KEY_FILE names a key file. Locking when nothing is unlocked is not an error.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    const answer = await askDaemon((v) => ({ v, op: 'lock' }));
    this.log(answer?.wasUnlocked ? 'locked: the daemon forgot the file store key' : 'nothing was unlocked');
  }
}
