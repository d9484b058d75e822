import { CredrelayCommand } from '../../shared/base-command.js';
import { runDaemon } from '../../../daemon/run.js';

export default class DaemonRunCommand extends CredrelayCommand {
  static override summary = 'Run the daemon in the foreground, for systemd, launchd or debugging.';
  static override description =
    'Stops on SIGTERM or SIGINT (removing its socket), reloads its configuration on SIGHUP, and exits after the idle timeout (daemon.idleTimeoutSeconds). Logs go to the log file; CREDRELAY_LOG_LEVEL sets the level.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    'CREDRELAY_LOG_LEVEL=debug <%= config.bin %> <%= command.id %>',
  ];

  async run(): Promise<void> {
    await this.parse(DaemonRunCommand); // oclif warns about a command that never parses its arguments
    process.exitCode = await runDaemon((line) => this.logToStderr(line));
  }
}
