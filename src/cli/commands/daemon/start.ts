import { CredrelayCommand } from '../../shared/base-command.js';
import { launchDaemon } from '../../../client/launcher.js';
import { askDaemon } from '../../shared/daemon-connection.js';
import { resolvePaths } from '../../../core/paths.js';

export default class DaemonStartCommand extends CredrelayCommand {
  static override summary = 'Start the daemon in the background.';
  static override description =
    'Helper calls start the daemon on demand, so this is rarely needed; it is useful to pay the start-up cost early. Use `credrelay daemon run` under systemd or launchd.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    await this.parse(DaemonStartCommand); // oclif warns about a command that never parses its arguments
    const running = await askDaemon((v) => ({ v, op: 'status' }));
    if (running !== undefined) {
      this.log(`the daemon is already running (pid ${running.pid}, version ${running.version})`);
      return;
    }
    const paths = resolvePaths();
    if (!(await launchDaemon(paths, 5000))) {
      this.error(
        `the daemon did not start within 5 s; see its log at ${paths.logPath}, or run \`credrelay daemon run\` to see why`,
        { exit: 1 },
      );
    }
    const status = await askDaemon((v) => ({ v, op: 'status' }));
    this.log(`daemon started (pid ${status?.pid ?? '?'}) on ${paths.socketPath}`);
  }
}
