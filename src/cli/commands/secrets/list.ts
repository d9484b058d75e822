import { CredrelayCommand } from '../../shared/base-command.js';
import { createNamedSecrets } from '../../../core/secrets/named-secrets.js';
import { configuredSecrets } from '../../../compose.js';
import { commandConfigAndStore } from '../../shared/command-store.js';

export default class SecretsListCommand extends CredrelayCommand {
  static override summary = 'List stored secrets and where configured ones live (never their values).';
  static override description =
    'Names stored with `credrelay secrets set` are listed one per line; a secret the configuration binds to a source ("secrets": a secret manager or a command) is listed with where it lives. References may also be satisfied by the environment of the caller. --json gives the stored names.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<string[]> {
    await this.parse(SecretsListCommand); // oclif warns about a command that never parses its arguments
    const { config, store } = commandConfigAndStore();
    const configured = configuredSecrets(config).list();
    // The sources are said without reading them: a secret manager is asked only when a route needs its value.
    const width = Math.max(0, ...configured.map(({ name }) => name.length)) + 2;
    for (const { name, where } of configured) this.log(`${name.padEnd(width)}${where}`);
    let names: string[] = [];
    try {
      names = await createNamedSecrets(store).names();
    } catch (error) {
      if (configured.length === 0) throw error;
      this.warn(`the store could not be read: ${(error as Error).message}`);
    }
    if (names.length === 0 && configured.length === 0) this.log('no secrets are stored');
    for (const name of names) this.log(name);
    return names;
  }
}
