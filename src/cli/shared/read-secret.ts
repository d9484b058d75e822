import { CredrelayError } from '../../core/errors.js';

/** A secret value can be a key file, but not a disk image. */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads a secret for a command: a hidden prompt when stdin is a terminal (nothing echoed, not even asterisks), else
 * all of stdin with one trailing newline removed (so `echo … |` and `< key.json` both work).
 */
export async function readSecretFromUser(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) return readHidden(prompt);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length > MAX_SECRET_BYTES)
      throw new CredrelayError('SECRET_INVALID', `the value on stdin is larger than ${MAX_SECRET_BYTES / 1024} KiB`);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** What a terminal sent past the end of one hidden answer (typed ahead, or pasted with the next): the next one's. */
let typedAhead = '';

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const finish = (outcome: () => void) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      outcome();
    };
    const onData = (chunk: Buffer | string) => {
      const text = chunk.toString();
      let index = 0;
      for (const char of text) {
        index += char.length;
        if (char === '\r' || char === '\n') {
          typedAhead = text.slice(index).replace(/^\n/, ''); // a CR LF pair ends one answer
          return finish(() => resolve(value));
        }
        if (char === '\u0003') return finish(() => reject(new CredrelayError('SECRET_INVALID', 'cancelled')));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on('data', onData);
    if (typedAhead !== '') {
      const ahead = typedAhead;
      typedAhead = '';
      onData(ahead);
    }
  });
}
