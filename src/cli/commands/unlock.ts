import { existsSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { CredrelayCommand } from '../shared/base-command.js';
import { readSecretFromUser } from '../shared/read-secret.js';
import { requestThroughDaemon } from '../../client/daemon-client.js';
import { CredrelayError } from '../../core/errors.js';
import { MAX_DURATION_SECONDS } from '../../core/config.js';
import { resolvePaths } from '../../core/paths.js';
import { failureError } from '../../core/wire/contract.js';

export default class UnlockCommand extends CredrelayCommand {
  static override summary =
    'Unlock the encrypted file store: the daemon keeps its key in memory until `credrelay lock`.';
  static override description = `For "store": "file". The passphrase is read from a hidden prompt (asked twice when the store does not exist yet), or from stdin with --passphrase-stdin, and handed to the daemon over its private socket; the daemon derives the store's key (scrypt), keeps only the key, in memory, and stays running while it holds it (it does not exit on idle). The first unlock creates the store with this passphrase. A wrong passphrase is refused.

On unattended machines, set CREDRELAY_STORE_KEY_FILE to a file holding the passphrase instead (owned by you, mode 600).`;
  static override flags = {
    'passphrase-stdin': Flags.boolean({ description: 'read the passphrase from stdin' }),
    timeout: Flags.string({
      description:
        'forget the key after this long (90s, 30m, 8h; default: "daemon.unlockTimeoutSeconds" in the config, else until `credrelay lock`)',
      helpValue: 'DURATION',
    }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    'systemd-ask-password | <%= config.bin %> <%= command.id %> --passphrase-stdin',
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(UnlockCommand);
    if (!flags['passphrase-stdin'] && process.stdin.isTTY !== true) {
      throw new CredrelayError(
        'INVALID_INPUT',
        'cannot prompt for the passphrase without a terminal: pipe it in with --passphrase-stdin',
      );
    }
    const holdSeconds = flags.timeout === undefined ? undefined : parseDuration(flags.timeout);
    const passphrase = await readSecretFromUser('Passphrase for the credrelay file store: ');
    if (passphrase === '') throw new CredrelayError('INVALID_INPUT', 'no passphrase given; the store stays locked');
    // A new store takes this passphrase for good: on a terminal it is typed twice, so a typo cannot become it.
    if (!flags['passphrase-stdin'] && !existsSync(resolvePaths().storePath)) {
      const again = await readSecretFromUser('The same passphrase again (a new store is created with it): ');
      if (again !== passphrase) {
        throw new CredrelayError(
          'INVALID_INPUT',
          'the two passphrases differ; nothing was created, the store stays locked',
        );
      }
    }
    const reply = await requestThroughDaemon((v) => ({
      v,
      op: 'unlock',
      passphrase,
      ...(holdSeconds === undefined ? {} : { holdSeconds }),
    }));
    if (reply === undefined) {
      throw new CredrelayError(
        'STORE_LOCKED',
        'the daemon could not be started, and only the daemon can hold the key: run `credrelay doctor`',
      );
    }
    if (!reply.ok) throw failureError(reply);
    const { outcome, storePath, until } = reply.result;
    const held = until === undefined ? 'until `credrelay lock`' : `until ${until} (or \`credrelay lock\`)`;
    this.log(
      outcome === 'created'
        ? `created the encrypted file store ${storePath}; the daemon holds its key ${held}`
        : `unlocked ${storePath}; the daemon holds its key ${held}`,
    );
  }
}

/** `90s`, `30m`, `8h`, `1d`, or a number of seconds, as a whole number of seconds. */
function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  const seconds = match === null ? NaN : Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's']!;
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_DURATION_SECONDS) {
    throw new CredrelayError(
      'INVALID_INPUT',
      `--timeout ${JSON.stringify(text)} is not a duration up to ten years: give 90s, 30m, 8h or 30d`,
    );
  }
  return seconds;
}
