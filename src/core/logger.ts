import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** Remembers a secret this process has handled, so that it is masked wherever it might appear later. */
  redact(secret: string): void;
}

export const parseLogLevel = (value: string | undefined): LogLevel =>
  (LOG_LEVELS as readonly string[]).includes(value ?? '') ? (value as LogLevel) : 'info';

const REDACTED = '[redacted]';
/** Field names whose values are secrets whatever they contain. */
const SECRET_FIELD = /secret|password|token|authorization|credential|passphrase|private/i;
/** Shapes of bearer tokens that must never survive into a log even if a caller slips: JWTs, Basic/Bearer values. */
const SECRET_SHAPES = [/\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g, /\b(Basic|Bearer)\s+[\w+/=.-]{8,}/gi];
/** How many remembered secrets are kept; older ones are dropped first. */
const MAX_REMEMBERED_SECRETS = 1000;

/** Masks every remembered secret and every token-shaped string in `text`. */
export function redactText(text: string, secrets: Iterable<string>): string {
  let result = text;
  for (const secret of secrets) if (secret.length >= 4) result = result.split(secret).join(REDACTED);
  for (const shape of SECRET_SHAPES) result = result.replace(shape, REDACTED);
  return result;
}

/**
 * The daemon's log: JSON lines in a file only the user can read (0600, in a 0700 directory), bounded in size
 * (at `maxBytes` the file moves to `daemon.log.1`, replacing the previous one). A failing write (a full disk) is
 * dropped: the log must never take the daemon down with it.
 */
export function createFileLogger(options: {
  path: string;
  level: LogLevel;
  maxBytes?: number;
  clock?: () => number;
}): Logger {
  const { path, level } = options;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const clock = options.clock ?? Date.now;
  const threshold = LOG_LEVELS.indexOf(level);
  const secrets = new Set<string>();
  let fd: number | undefined;

  const open = (): number => openPrivateLog(path);

  const write = (entryLevel: LogLevel, message: string, fields: LogFields = {}): void => {
    if (LOG_LEVELS.indexOf(entryLevel) > threshold) return;
    const entry: Record<string, unknown> = { time: new Date(clock()).toISOString(), level: entryLevel, msg: message };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) entry[key] = SECRET_FIELD.test(key) ? REDACTED : value;
    }
    const line = `${redactText(JSON.stringify(entry), secrets)}\n`;
    try {
      fd ??= open();
      if (fstatSync(fd).size + line.length > maxBytes) {
        closeSync(fd);
        renameSync(path, `${path}.1`);
        fd = open();
      }
      writeSync(fd, line);
    } catch {
      // ENOSPC, a removed directory, a read-only file system: losing a log line is better than losing the daemon.
    }
  };

  return {
    error: (message, fields) => write('error', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    info: (message, fields) => write('info', message, fields),
    debug: (message, fields) => write('debug', message, fields),
    redact(secret) {
      if (secret.length < 4 || secrets.has(secret)) return;
      if (secrets.size >= MAX_REMEMBERED_SECRETS) secrets.delete(secrets.values().next().value as string);
      secrets.add(secret);
    },
  };
}

/**
 * The log file, opened only where nobody else can have put it: its directory a real directory of the user's that
 * nobody else can write, the file itself opened without following a link (O_NOFOLLOW), and a regular file of the
 * user's with no other name (a hard link), mode 0600. Otherwise it throws, and the log is not written: another user
 * who pre-created `~/.local/state/credrelay/` (a shared, sticky HOME) must neither choose the file the daemon appends
 * to nor read it.
 */
function openPrivateLog(path: string): number {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  const where = lstatSync(dir);
  if (!where.isDirectory() || (uid !== undefined && where.uid !== uid) || (where.mode & 0o022) !== 0) {
    throw new Error(`the log directory ${dir} is not a private directory of this user`);
  }
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const file = fstatSync(fd);
  if (!file.isFile() || (uid !== undefined && file.uid !== uid) || file.nlink !== 1) {
    closeSync(fd);
    throw new Error(`the log file ${path} is not a file of this user's own`);
  }
  if ((file.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  return fd;
}

/** A logger that writes nothing, for the in-process path (a helper process has no log of its own). */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  redact: () => undefined,
};
