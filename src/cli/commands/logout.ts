import { Args } from '@oclif/core';
import { CredrelayCommand } from '../shared/base-command.js';
import { composeCommandRouter } from '../shared/command-store.js';
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
    const decision = router.decide(registry);
    const storage = decision.provider.storage;
    if (storage === undefined) {
      // The router's notice says the same; one line here, where the command's answer goes.
      await router.erase(args.host, { notice: () => undefined });
      this.log(
        `Nothing is stored for ${registry.key}: the ${decision.provider.name} provider obtains its own credentials (its cached tokens were dropped)`,
      );
      return;
    }
    // What the keychain holds for this registry under any spelling, to tell "removed" from "there was nothing".
    const listed =
      decision.provider === router.providers().at(-1)
        ? await storage.list(router.contextFor(decision.options, { notice: () => undefined }))
        : undefined;
    const held = listed?.some((entry) => parseRegistry(entry.serverURL).key === registry.key);
    await router.erase(args.host, { notice: (line) => this.logToStderr(line) });
    this.log(held === false ? `Nothing was stored for ${registry.key}` : `Removed the credentials for ${registry.key}`);
  }
}
