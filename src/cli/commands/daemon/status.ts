import { CredrelayCommand } from '../../shared/base-command.js';
import { type DaemonState, describeDaemonState, probeDaemon } from '../../shared/daemon-connection.js';
import type { DaemonStatus } from '../../../core/wire/contract.js';
import { resolvePaths } from '../../../core/paths.js';

export default class DaemonStatusCommand extends CredrelayCommand {
  static override summary =
    "Show this environment's daemon: absent, starting, answering (pid, version, uptime, socket, cache), or not answering.";
  static override description =
    'Exits with status 1 unless a daemon answers. A daemon that holds its socket but does not answer (stopped or wedged) is reported as such, with the fix; asking never starts one.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<DaemonStatus | (Exclude<DaemonState, { state: 'answering' }> & { socketPath: string })> {
    await this.parse(DaemonStatusCommand); // oclif warns about a command that never parses its arguments
    const paths = resolvePaths();
    const probe = await probeDaemon(paths);
    if (probe.state !== 'answering') {
      process.exitCode = 1;
      if (!this.jsonEnabled()) this.logToStderr(describeDaemonState(probe, paths.socketPath));
      return { ...probe, socketPath: paths.socketPath };
    }
    const { status } = probe;
    this.log(`running     pid ${status.pid}, version ${status.version}, up ${formatDuration(status.uptimeSeconds)}`);
    this.log(`socket      ${status.socketPath}`);
    this.log(`cache       ${status.cacheEntries} token(s)`);
    this.log(`idle exit   after ${formatDuration(status.idleTimeoutSeconds)} without requests`);
    this.log(`config      ${status.configPath}${status.configError ? ` (not in use: ${status.configError})` : ''}`);
    this.log(`store       ${status.store}${status.storeUnlocked ? ' (the file store is unlocked)' : ''}`);
    this.log(`log         ${status.logPath}`);
    return status;
  }
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}
