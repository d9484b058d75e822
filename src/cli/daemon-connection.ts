import { requestThroughDaemon } from '../client/daemon-client.js';
import type { WireRequest } from '../daemon/wire.js';
import { CredrelayError } from '../errors.js';

/**
 * Asks the running daemon something on behalf of a command. Never starts one: a status question must not change
 * the answer. Resolves with undefined when no daemon runs.
 */
export async function askDaemon<T>(build: (version: string) => WireRequest): Promise<T | undefined> {
  const reply = await requestThroughDaemon(build, { start: false, notice: () => undefined });
  if (reply === undefined) return undefined;
  if (!reply.ok) throw new CredrelayError('INTERNAL', `the daemon refused the request: ${reply.message}`);
  return reply.result as T;
}
