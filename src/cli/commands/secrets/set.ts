import { CredrelayCommand } from '../../shared/base-command.js';
import { Args } from '@oclif/core';
import { readSecretFromUser } from '../../shared/read-secret.js';
import { assertSecretName } from '../../../core/secrets/secret-name.js';
import { createNamedSecrets } from '../../../core/secrets/named-secrets.js';
import { commandConfigAndStore, storeName } from '../../shared/command-store.js';

export default class SecretsSetCommand extends CredrelayCommand {
  static override summary =
    'Store a named secret in the OS keychain (or the encrypted file store), for "$NAME" references in the config.';
  static override description = `The value is read from stdin: a hidden prompt on a terminal, or everything piped in (one trailing newline is dropped). NAME=VALUE on the command line also works, like other platforms' secrets commands, but the value is then visible to other processes and your shell history; prefer stdin.

Names are shell-style: letters, digits and _, not starting with a digit. Values go to the OS keychain only (or the encrypted file store, with "store": "file"), apart from registry credentials.`;
  static override args = {
    name: Args.string({ description: 'NAME, or NAME=VALUE', required: true }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %> DOCKERHUB_TOKEN',
    'printf %s "$TOKEN" | <%= config.bin %> <%= command.id %> DOCKERHUB_TOKEN',
    '<%= config.bin %> <%= command.id %> GOOGLE_AR_KEY < service-account.json',
  ];

  async run(): Promise<void> {
    const { args } = await this.parse(SecretsSetCommand);
    const equals = args.name.indexOf('=');
    const name = assertSecretName(equals === -1 ? args.name : args.name.slice(0, equals));
    let value: string;
    if (equals === -1) {
      value = await readSecretFromUser(`Value for ${name}: `);
    } else {
      value = args.name.slice(equals + 1);
      this.warn(
        'the value was passed on the command line, where other processes and your shell history can see it; `credrelay secrets set NAME` reads it from stdin instead',
      );
    }
    if (value.length === 0) this.error(`no value given for ${name}; nothing was stored`, { exit: 1 });
    const { config, store } = commandConfigAndStore();
    await createNamedSecrets(store).set(name, value);
    this.log(`stored secret ${name} in ${storeName(config)}`);
  }
}
