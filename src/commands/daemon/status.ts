import { CredrelayCommand } from '../../cli/base-command.js';

import { askDaemon } from '../../cli/daemon-connection.js';
import type { DaemonStatus } from '../../daemon/server.js';
import { resolvePaths } from '../../paths.js';

export default class DaemonStatusCommand extends CredrelayCommand {
  static override summary = 'Show whether the daemon runs, and its pid, version, uptime, socket and cache size.';
  static override description = 'Exits with status 1 when no daemon is running. Asking never starts one.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<DaemonStatus | { running: false; socketPath: string }> {
    const status = await askDaemon<DaemonStatus>((v) => ({ v, op: 'status' }));
    if (status === undefined) {
      const socketPath = resolvePaths().socketPath;
      if (!this.jsonEnabled())
        this.logToStderr(
          `no daemon is running on ${socketPath} (a helper call starts one; or run \`credrelay daemon start\`)`,
        );
      process.exitCode = 1;
      return { running: false, socketPath };
    }
    this.log(`running     pid ${status.pid}, version ${status.version}, up ${formatDuration(status.uptimeSeconds)}`);
    this.log(`socket      ${status.socketPath}`);
    this.log(`cache       ${status.cacheEntries} token(s)`);
    this.log(`idle exit   after ${formatDuration(status.idleTimeoutSeconds)} without requests`);
    this.log(`config      ${status.configPath}`);
    this.log(`log         ${status.logPath}`);
    return status;
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}
