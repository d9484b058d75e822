import { CredrelayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CredrelayPaths } from '../core/paths.js';
import { isCredrelayDaemon } from '../core/util/process.js';
import { MAX_DAEMONS, roomForDaemon, slotPath } from '../core/wire/daemon-room.js';
import { acquireInstanceLock } from './instance-lock.js';

/**
 * Takes one of the MAX_DAEMONS slots (`slot-N.pid`, created exclusively, a dead holder's taken over), so that
 * daemons starting at the same moment for different environments cannot pass the bound together. When every slot
 * is held, the least recently used daemon is stopped if it has been idle long enough (SIGTERM: it forgets its
 * secrets, removes its socket and frees its slot). Returns the slot's release; throws DAEMON_LIMIT otherwise.
 */
export async function claimSlot(paths: CredrelayPaths, logger: Logger): Promise<() => void> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    for (let index = 0; index < MAX_DAEMONS; index += 1) {
      const release = acquireInstanceLock(slotPath(paths, index));
      if (release !== undefined) return release;
    }
    const room = roomForDaemon(paths);
    if (room.verdict !== 'reap') break;
    logger.info('stopping the least recently used daemon to make room', { pid: room.daemon.pid });
    try {
      process.kill(room.daemon.pid, 'SIGTERM');
    } catch {
      // Gone meanwhile: its slot is free.
    }
    const deadline = Date.now() + 2000;
    while (isCredrelayDaemon(room.daemon.pid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const room = roomForDaemon(paths);
  throw new CredrelayError(
    'DAEMON_LIMIT',
    `${room.verdict === 'full' ? room.why : `all ${MAX_DAEMONS} daemon slots are taken`}: stop one with \`credrelay daemon stop --all\`, or let them idle out`,
  );
}
