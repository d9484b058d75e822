/**
 * The main of `docker-credential-credrelay`. Docker runs it once per credential, so this path is kept as light as
 * Node allows: only `node:` modules and the small protocol codec load before a request is known to need more.
 * Anything that is not a protocol action goes to the management CLI, which loads oclif.
 */
import process from 'node:process';
import { MAX_SERVER_URL_BYTES, MAX_STORE_BYTES } from '../protocol/codec.js';
import { type ProtocolAction, type ProtocolReply, USAGE_LINE, isProtocolAction } from '../protocol/handler.js';

const args = process.argv.slice(2);
const first = args[0];

if (isProtocolAction(first)) {
  if (args.length !== 1) {
    // The reference helpers' exact answer to extra arguments.
    finish({ stdout: `${USAGE_LINE}\n`, stderr: '', exitCode: 1 });
  } else {
    finish(await serve(first));
  }
} else {
  const { runCli } = await import('../cli/run.js');
  await runCli(args);
}

async function serve(action: ProtocolAction): Promise<ProtocolReply> {
  const input = await readInput(action);
  const { serveInProcess } = await import('../serve-in-process.js');
  return serveInProcess(action, input);
}

/**
 * Reads stdin for the actions that take input, and never more than one byte past that action's bound: the
 * codec rejects the oversized input with a clear message without us holding megabytes first.
 */
async function readInput(action: ProtocolAction): Promise<Uint8Array> {
  if (action === 'list' || action === 'version') return new Uint8Array(0);
  const limit = (action === 'store' ? MAX_STORE_BYTES : MAX_SERVER_URL_BYTES) + 1;
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= limit) break;
  }
  return Buffer.concat(chunks, Math.min(length, limit));
}

/** Writes the reply and exits at once: a keychain call still running after its deadline must not hold us. */
function finish(reply: ProtocolReply): void {
  if (reply.stderr.length > 0) process.stderr.write(reply.stderr);
  process.stdout.write(reply.stdout, () => process.exit(reply.exitCode));
}
