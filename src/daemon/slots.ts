import { CredrelayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CredrelayPaths } from '../core/paths.js';
import { isCredrelayDaemon, processStartTicks } from '../core/util/process.js';
import { maxDaemons, roomForDaemon, slotPath } from '../core/wire/daemon-room.js';
import { acquireInstanceLock } from './instance-lock.js';

/**
 * Takes one of the maxDaemons() slots of this user. In the runtime directory, a slot is a pid file (`slot-N.pid`,
 * created exclusively, a dead holder's taken over); across runtime directories (on Linux), the daemons that started
 * before this one are counted through /proc, and this one gives way when they already fill the bound, so daemons
 * starting at the same moment for different environments or directories cannot pass it together. When the bound
 * is reached, the least recently used daemon is stopped if it has been idle long enough (SIGTERM: it forgets its
 * secrets, removes its socket and frees its slot). Returns the slot's release; throws DAEMON_LIMIT otherwise.
 */
export async function claimSlot(paths: CredrelayPaths, logger: Logger): Promise<() => void> {
  const self = { ticks: processStartTicks(process.pid), pid: process.pid };
  let room: ReturnType<typeof roomForDaemon> = { verdict: 'free' };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let release: (() => void) | undefined;
    for (let index = 0; index < maxDaemons() && release === undefined; index += 1)
      release = acquireInstanceLock(slotPath(paths, index));
    room = release === undefined ? roomForDaemon(paths) : roomForDaemon(paths, Date.now(), self);
    if (release !== undefined && room.verdict === 'free') return release;
    release?.();
    if (room.verdict !== 'reap') break;
    logger.info('stopping the least recently used daemon to make room', { pid: room.daemon.pid });
    try {
      process.kill(room.daemon.pid, 'SIGTERM');
    } catch {
      // Gone meanwhile: its slot is free.
    }
    const deadline = Date.now() + 2000;
    while (isCredrelayDaemon(room.daemon.pid, room.daemon.startedAt) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new CredrelayError(
    'DAEMON_LIMIT',
    `${room.verdict === 'full' ? room.why : `all ${maxDaemons()} daemon slots are taken`}: stop one with \`credrelay daemon stop --all\`, or let them idle out`,
  );
}
