import { Args } from '@oclif/core';
import { CredrelayCommand } from '../shared/base-command.js';
import { composeCommandRouter } from '../shared/command-store.js';
import { logout } from '../../service/command-service.js';
import { parseRegistry } from '../../core/registry/identity.js';

export default class LogoutCommand extends CredrelayCommand {
  static override summary =
    'Remove the stored credentials of a registry from the OS keychain (or the encrypted file store).';
  static override description =
    'The registry may be given in any spelling: the entry stored under any of them is removed. Cached tokens for it are dropped too. For a registry whose tokens credrelay mints, nothing is stored, and the command says so.';
  static override args = { host: Args.string({ description: 'the registry, in any spelling', required: true }) };
  static override examples = ['<%= config.bin %> <%= command.id %> registry.example:5000'];

  async run(): Promise<void> {
    const { args } = await this.parse(LogoutCommand);
    const registry = parseRegistry(args.host);
    const { router } = await composeCommandRouter();
    const outcome = await logout(router, args.host, { notice: (line) => this.logToStderr(line) });
    this.log(
      outcome.kind === 'minted'
        ? `Nothing is stored for ${registry.key}: the ${outcome.provider} provider obtains its own credentials (its cached tokens were dropped)`
        : outcome.kind === 'nothing-stored'
          ? `Nothing was stored for ${registry.key}`
          : `Removed the credentials for ${registry.key}`,
    );
  }
}
