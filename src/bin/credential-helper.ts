/**
 * The main of `docker-credential-credrelay`. Docker runs it once per credential, so this path is kept as light as
 * Node allows: only `node:` modules and a few small modules of ours (protocol codec, daemon client) load before a
 * request is known to need more. The keychain module, oclif and the cloud SDKs load in the daemon, or here only when
 * the request is served in-process.
 * Anything that is not a protocol action goes to the management CLI, which loads oclif.
 */
import { readSync } from 'node:fs';
import process from 'node:process';
import { MAX_KUBELET_REQUEST_BYTES } from '../core/protocol/kubelet-limits.js';
import { MAX_SERVER_URL_BYTES, MAX_STORE_BYTES } from '../core/protocol/codec.js';
import { HANDOVER_AFTER_ACK, HANDOVER_VARIABLE } from '../core/paths.js';
import { processStartTicks } from '../core/util/process.js';
import {
  type ProtocolAction,
  type ProtocolReply,
  USAGE_LINE,
  isProtocolAction,
  versionLine,
} from '../core/protocol/handler.js';
import { packageVersion } from '../core/version.js';
import type { ServiceRequest } from '../core/wire/contract.js';

/** Runs the helper; a function rather than top-level code so that the client path can be bundled as CommonJS. */
export async function main(args: readonly string[]): Promise<void> {
  const first = args[0];
  // Docker's helpers' exact answer to no argument at all (credentials.Serve): the usage line, exit 1.
  if (first === undefined) return finish({ stdout: `${USAGE_LINE}\n`, stderr: '', exitCode: 1 });
  if (first === 'kubelet' && args.length === 1)
    return finish(await serve({ kind: 'kubelet', input: await readInput('kubelet') }));
  if (!isProtocolAction(first)) {
    // The CLI's bundle (see src/cli/commands.ts), named through a variable so that this bundle does not include it.
    const cliBundle = '../cli/bundle.cjs';
    const { runCli } = (await import(cliBundle)) as typeof import('../cli/run.js');
    await runCli(args);
    return;
  }
  // The reference helpers' exact answer to extra arguments.
  if (args.length !== 1) return finish({ stdout: `${USAGE_LINE}\n`, stderr: '', exitCode: 1 });
  // `version` needs neither the daemon nor a router.
  if (first === 'version') return finish({ stdout: `${versionLine(packageVersion())}\n`, stderr: '', exitCode: 0 });
  // The program that ran this helper, so that its `list` and the `get`s after it are known as one collection.
  const caller = `${process.ppid}:${processStartTicks(process.ppid)}`;
  finish(await serve({ kind: 'protocol', action: first, input: await readInput(first), caller }));
}

/**
 * Through the daemon when one can be used (started on demand), else in this process. CREDRELAY_NO_DAEMON=1 keeps
 * every request in-process.
 */
async function serve(request: ServiceRequest): Promise<ProtocolReply> {
  if (process.env[HANDOVER_VARIABLE] === HANDOVER_AFTER_ACK) {
    // The native client's daemon took this request and then did not answer: asking it again would double the wait.
    process.stderr.write(
      'credrelay: the daemon acknowledged this request and then did not answer; serving it in-process (run `credrelay daemon status` or `credrelay doctor`)\n',
    );
  } else if (process.env.CREDRELAY_NO_DAEMON !== '1') {
    const { answerThroughDaemon } = await import('../client/daemon-client.js');
    const reply = await answerThroughDaemon(request);
    if (reply !== undefined) return reply;
  }
  const { answerInProcess } = await import('../serve-in-process.js');
  return answerInProcess(request);
}

/**
 * Reads stdin for the actions that take input, and never more than one byte past that action's bound: the
 * codec rejects the oversized input with a clear message without us holding megabytes first.
 */
async function readInput(action: ProtocolAction | 'kubelet'): Promise<Uint8Array> {
  if (action === 'list') return new Uint8Array(0);
  const bound =
    action === 'kubelet' ? MAX_KUBELET_REQUEST_BYTES : action === 'store' ? MAX_STORE_BYTES : MAX_SERVER_URL_BYTES;
  const limit = bound + 1;
  return readStdinSync(limit) ?? (await readStdinStream(limit));
}

/**
 * Plain blocking reads of fd 0. Creating `process.stdin` costs Node several milliseconds of stream set-up, a
 * noticeable share of a call that Docker makes once per credential. Returns undefined when stdin is non-blocking
 * (EAGAIN), for the stream reader to handle.
 */
function readStdinSync(limit: number): Uint8Array | undefined {
  const buffer = Buffer.allocUnsafe(limit);
  let length = 0;
  try {
    for (let read = 1; read > 0 && length < limit; length += read)
      read = readSync(0, buffer, length, limit - length, null);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') return undefined;
    if (code !== 'EOF' && code !== 'EBADF') throw error; // EOF: Windows' end of a pipe; EBADF: no stdin at all
  }
  return buffer.subarray(0, length);
}

async function readStdinStream(limit: number): Promise<Uint8Array> {
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
