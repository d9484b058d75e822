import { rmSync } from 'node:fs';
import { CredrelayCommand } from '../../cli/base-command.js';
import { askDaemon, probeDaemon } from '../../cli/daemon-connection.js';
import { waitUntilGone } from '../../client/launcher.js';
import { resolvePaths } from '../../core/paths.js';
import { isAlive, isCredrelayDaemon } from '../../core/util/process.js';

export default class DaemonStopCommand extends CredrelayCommand {
  static override summary = "Stop this environment's daemon; cached tokens are forgotten.";
  static override description =
    'A daemon that answers is asked to exit, and removes its socket and pid file as it goes. One that does not answer (stopped or wedged) is ended: SIGTERM, then SIGKILL, by the pid in its pid file, once that pid is checked to be a credrelay daemon. The next helper call starts a new one; stopping when none runs is not an error.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
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
}

/** SIGTERM (with SIGCONT, so a stopped process can act on it), then SIGKILL if it is still there after 2 s. */
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
  if (await gone(2000)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await gone(2000);
}
