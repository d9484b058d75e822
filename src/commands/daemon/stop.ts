import { CredrelayCommand } from '../../cli/base-command.js';

import { waitUntilGone } from '../../client/launcher.js';
import { askDaemon } from '../../cli/daemon-connection.js';
import { resolvePaths } from '../../paths.js';

export default class DaemonStopCommand extends CredrelayCommand {
  static override summary = 'Stop the daemon; cached tokens are forgotten.';
  static override description =
    'The daemon removes its socket and pid file as it goes. The next helper call starts a new one; stopping when none runs is not an error.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    const paths = resolvePaths();
    const answer = await askDaemon((v) => ({ v, op: 'shutdown' }));
    if (answer === undefined) {
      this.log('no daemon is running');
      return;
    }
    if (!(await waitUntilGone(paths.socketPath, 5000))) this.error('the daemon did not stop within 5 s', { exit: 1 });
    this.log('daemon stopped');
  }
}
