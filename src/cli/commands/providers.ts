import { composeConfiguredRouter } from '../../compose.js';
import { CredrelayCommand } from '../shared/base-command.js';
import { providerSummaries } from '../../service/command-service.js';

export default class ProvidersCommand extends CredrelayCommand {
  static override summary = 'List the providers (built-in and from plugins), their host patterns and options.';
  static override description =
    'Providers are listed in routing order: a provider whose host patterns match a registry answers for it unless a registries entry says otherwise; the keychain answers for everything else. Plugins come from "plugins" in the configuration file (docs/plugins.md).';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<readonly unknown[]> {
    await this.parse(ProvidersCommand); // oclif warns about a command that never parses its arguments
    const providers = providerSummaries(await composeConfiguredRouter());
    for (const provider of providers) {
      this.log(`${provider.name}: ${provider.description || '(no description)'}`);
      if (provider.hostPatterns.length > 0) this.log(`  hosts    ${provider.hostPatterns.join('; ')}`);
      const options = Object.keys(provider.options);
      if (options.length > 0) this.log(`  options  ${options.join(', ')}`);
      if (provider.podIdentityAnnotations !== undefined)
        this.log(
          `  pods     in kubelet mode, as the pod; annotations ${provider.podIdentityAnnotations.join(', ') || 'none'}`,
        );
    }
    return providers;
  }
}
