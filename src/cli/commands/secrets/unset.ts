import { CredrelayCommand } from '../../shared/base-command.js';
import { Args } from '@oclif/core';
import { assertSecretName } from '../../../core/secrets/secret-name.js';
import { createNamedSecrets } from '../../../core/secrets/named-secrets.js';
import { commandConfigAndStore } from '../../shared/command-store.js';

export default class SecretsUnsetCommand extends CredrelayCommand {
  static override summary = 'Remove a named secret from the OS keychain (or the encrypted file store).';
  static override description =
    'A registries entry that still refers to it then answers with an error naming the secret, or with the value of the same name in the daemon environment.';
  static override args = { name: Args.string({ description: 'the secret name', required: true }) };
  static override examples = ['<%= config.bin %> <%= command.id %> DOCKERHUB_TOKEN'];

  async run(): Promise<void> {
    const { args } = await this.parse(SecretsUnsetCommand);
    const name = assertSecretName(args.name);
    const removed = await createNamedSecrets(commandConfigAndStore().store).unset(name);
    this.log(removed ? `removed secret ${name}` : `no secret named ${name} was stored`);
  }
}
