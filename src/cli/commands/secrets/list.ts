import { CredrelayCommand } from '../../shared/base-command.js';
import { createNamedSecrets } from '../../../core/secrets/named-secrets.js';
import { commandConfigAndStore } from '../../shared/command-store.js';

export default class SecretsListCommand extends CredrelayCommand {
  static override summary = 'List the names of stored secrets (never their values).';
  static override description =
    'Only secrets stored with `credrelay secrets set` are listed; references may also be satisfied by the environment of the caller.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<string[]> {
    await this.parse(SecretsListCommand); // oclif warns about a command that never parses its arguments
    const names = await createNamedSecrets(commandConfigAndStore().store).names();
    if (names.length === 0) this.log('no secrets are stored');
    for (const name of names) this.log(name);
    return names;
  }
}
