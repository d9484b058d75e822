import { rmSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { CredrelayCommand } from '../../shared/base-command.js';
import { askDaemon, probeDaemon } from '../../shared/daemon-connection.js';
import { waitUntilGone } from '../../../client/launcher.js';
import { resolvePaths } from '../../../core/paths.js';
import { isAlive, isCredrelayDaemon } from '../../../core/util/process.js';
import { otherDaemons } from '../../../core/wire/daemon-room.js';

export default class DaemonStopCommand extends CredrelayCommand {
  static override summary = "Stop this environment's daemon; cached tokens are forgotten.";
  static override description =
    'A daemon that answers is asked to exit: it removes its socket at once, answers the requests it had acknowledged, and removes its pid file as it goes. One that does not answer (stopped or wedged) is ended: SIGTERM, then SIGKILL, by the pid in its pid file, once that pid is checked to be a credrelay daemon. The next helper call starts a new one; stopping when none runs is not an error. With --all, every credrelay daemon process of this user id goes, whatever environment, runtime directory or HOME it serves (found through /proc): on a user that several CI jobs share, theirs too.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --all'];
  static override flags = {
    all: Flags.boolean({
      description:
        "stop every credrelay daemon process of this user id that /proc shows, whatever environment, runtime directory or HOME it serves: on a CI runner's shared user, other jobs' too (before an upgrade or an uninstall)",
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStopCommand);
    if (flags.all) return this.stopAll();
    const paths = resolvePaths();
    const probe = await probeDaemon(paths);
    if (probe.state === 'absent') {
      this.log('no daemon is running');
      return;
    }
    if (probe.state === 'answering') {
      await askDaemon((v) => ({ v, op: 'shutdown' }));
      if (!(await waitUntilGone(paths.socketPath, 5000))) this.error('the daemon did not stop within 5 s', { exit: 1 });
      this.log('daemon stopped');
      return;
    }
    const { pid } = probe;
    if (pid === undefined || !isCredrelayDaemon(pid)) {
      this.error(
        `the daemon on ${paths.socketPath} does not answer and no credrelay daemon holds its pid file; remove ${paths.socketPath} if nothing should be there`,
        { exit: 1 },
      );
    }
    await endProcess(pid);
    // A killed daemon leaves its socket and pid file behind; they are ours to remove now that it is gone.
    rmSync(paths.socketPath, { force: true });
    rmSync(paths.pidPath, { force: true });
    this.log(`daemon ended (pid ${pid}; it did not answer, so it was signalled)`);
  }

  /**
   * Every daemon of this user: those with a pid file in this runtime directory, and (on Linux) every process of the
   * user whose command line is a credrelay daemon, so that daemons of other runtime directories, or of a deleted
   * installation, go too. Each is signalled, as a daemon that does not answer is.
   */
  private async stopAll(): Promise<void> {
    const paths = resolvePaths();
    const pids = new Set(otherDaemons({ ...paths, pidPath: '' }).map((daemon) => daemon.pid));
    if (pids.size === 0) {
      this.log('no daemon is running');
      return;
    }
    await Promise.all([...pids].map((pid) => endProcess(pid)));
    const left = [...pids].filter((pid) => isAlive(pid));
    if (left.length > 0) this.error(`daemon(s) ${left.join(', ')} did not stop`, { exit: 1 });
    this.log(`stopped ${pids.size} daemon${pids.size === 1 ? '' : 's'} (pid ${[...pids].join(', ')})`);
  }
}

/**
 * SIGTERM (with SIGCONT, so a stopped process can act on it), then SIGKILL if it is still there after 30 s: a daemon
 * that is answering requests it acknowledged finishes them first (within its 27 s drain), and one that is wedged
 * goes.
 */
async function endProcess(pid: number): Promise<void> {
  const gone = async (ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!isAlive(pid)) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return !isAlive(pid);
  };
  try {
    process.kill(pid, 'SIGTERM');
    process.kill(pid, 'SIGCONT');
  } catch {
    return;
  }
  if (await gone(30_000)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await gone(2000);
}
