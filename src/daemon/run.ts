import { toCredrelayError } from '../core/errors.js';
import { resolvePaths } from '../core/paths.js';
import { packageVersion } from '../core/version.js';
import { createFileLogger, parseLogLevel } from '../core/logger.js';
import { startDaemon } from './server.js';

/**
 * Runs the daemon until it is stopped (signal, idle timeout, a client's request). Returns the exit code:
 * 0 when it ran and stopped; 1 when it could not start or refused to (another daemon already serves).
 * `announce` hears one line for a foreground run (`credrelay daemon run`).
 */
export async function runDaemon(announce: (line: string) => void = () => undefined): Promise<number> {
  const paths = resolvePaths();
  const logger = createFileLogger({ path: paths.logPath, level: parseLogLevel(process.env.CREDRELAY_LOG_LEVEL) });
  process.on('uncaughtException', (error) => {
    logger.error('daemon crashed', { error: toCredrelayError(error).message, kind: error.name });
    process.exit(1);
  });

  let daemon;
  try {
    daemon = await startDaemon({ paths, version: packageVersion(), logger });
  } catch (error) {
    const message = toCredrelayError(error).message;
    logger.error('daemon could not start', { error: message, code: (error as NodeJS.ErrnoException).code });
    announce(`credrelay daemon could not start: ${message}`);
    return 1;
  }
  if (daemon === undefined) {
    announce(`credrelay daemon: not starting, another daemon already serves ${paths.socketPath}`);
    return 1;
  }
  announce(
    `credrelay daemon ${packageVersion()} (pid ${process.pid}) listening on ${paths.socketPath}; log: ${paths.logPath}`,
  );
  const running = daemon;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void running.shutdown(signal));
  process.on('SIGHUP', () => void running.reload('SIGHUP'));
  await running.closed;
  return 0;
}
