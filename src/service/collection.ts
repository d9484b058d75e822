import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CREDENTIALS_NOT_FOUND_MESSAGE } from '../core/errors.js';
import type { ProtocolReply } from '../core/protocol/handler.js';
import { replaceFileAtomically } from '../core/util/atomic-file.js';
import { executableName } from '../core/util/process.js';
import { CALLER } from '../core/wire/contract.js';

/**
 * Callers that collect every credential (the docker CLI's legacy builder and `GetAllCredentials`, docker-compose v1,
 * Docker's Python SDK) run `list`, then `get` for each name it gave, and give up on the whole set when one `get`
 * fails: one unrelated route whose session expired would leave a build with no credential at all. Such a `get` is
 * known by its caller: the same program (parent process, by pid and start time), one of those known to collect
 * (COLLECTORS), that ran `list` moments before, for a name that `list` gave it. For those, a failure is answered as
 * "not found", which these callers skip, with credrelay's explanation on stderr, which they pass through to the
 * terminal. Any other `get` fails as it always does.
 *
 * What `list` gave is kept as a small file in the private runtime directory (names only, never a secret), so that the
 * daemon and the in-process path, which may each serve one of the calls, see the same.
 */
export interface Collections {
  /** `list` answered this caller: what it named. */
  listed(caller: string, reply: ProtocolReply): void;
  /** A failed `get` of a name this caller's `list` gave moments ago, answered for a collecting caller; else as is. */
  failedGet(caller: string, serverURL: string, reply: ProtocolReply): ProtocolReply;
}

/**
 * The programs known to collect every credential: the docker CLI (the legacy builder, `GetAllCredentials`),
 * docker-compose v1, and Python (Docker's SDK). Any other caller that lists and then gets (a shell, a script of
 * another language, a test) gets the explained error, as every caller did before.
 */
const COLLECTORS = /^(?:docker|com\.docker\.cli|docker-compose|python[\d.]*)$/;

/** Whether the process a caller names is one of the collecting programs, by its executable. */
function isCollector(caller: string): boolean {
  try {
    return COLLECTORS.test(executableName(Number(caller.split(':')[0])));
  } catch {
    return false;
  }
}

/** How long after a `list` its caller's `get`s count as a collection: they follow at once, one by one. */
const COLLECTION_WINDOW_MS = 60_000;
const FILE = /^collect-(\d+)-(\d+)\.json$/;

export function fileCollections(
  runtimeDir: string,
  clock: () => number = Date.now,
  collects: (caller: string) => boolean = isCollector,
): Collections {
  const fileOf = (caller: string) => join(runtimeDir, `collect-${caller.replace(':', '-')}.json`);
  return {
    listed(caller, reply) {
      if (reply.exitCode !== 0 || !CALLER.test(caller)) return;
      let names: string[];
      try {
        names = Object.keys(JSON.parse(reply.stdout) as Record<string, unknown>);
      } catch {
        return;
      }
      try {
        sweep(runtimeDir, clock());
        replaceFileAtomically(fileOf(caller), JSON.stringify({ names }), 0o600);
      } catch {
        // No runtime directory (an in-process answer where it was unsafe): collections are not recognised.
      }
    },
    failedGet(caller, serverURL, reply) {
      if (reply.exitCode === 0 || reply.stdout === `${CREDENTIALS_NOT_FOUND_MESSAGE}\n` || !CALLER.test(caller))
        return reply;
      if (!collects(caller)) return reply;
      try {
        const path = fileOf(caller);
        if (clock() - statSync(path).mtimeMs > COLLECTION_WINDOW_MS) return reply;
        const { names } = JSON.parse(readFileSync(path, 'utf8')) as { names?: unknown };
        if (!Array.isArray(names) || !names.includes(serverURL.trim())) return reply;
      } catch {
        return reply;
      }
      const why = reply.stdout.trim();
      return {
        stdout: `${CREDENTIALS_NOT_FOUND_MESSAGE}\n`,
        stderr: `${reply.stderr}credrelay: ${why} (answered "not found" to this caller, which collects every credential, so that the others still reach it)\n`,
        exitCode: 1,
      };
    },
  };
}

/** Removes collection files older than the window. */
function sweep(runtimeDir: string, now: number): void {
  for (const name of readdirSync(runtimeDir)) {
    if (!FILE.test(name)) continue;
    try {
      if (now - statSync(join(runtimeDir, name)).mtimeMs > COLLECTION_WINDOW_MS) rmSync(join(runtimeDir, name));
    } catch {
      // Gone meanwhile.
    }
  }
}
