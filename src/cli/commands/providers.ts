import { composeConfiguredRouter } from '../../compose.js';
import { CredrelayCommand } from '../shared/base-command.js';

export default class ProvidersCommand extends CredrelayCommand {
  static override summary = 'List the providers (built-in and from plugins), their host patterns and options.';
  static override description =
    'Providers are listed in routing order: a provider whose host patterns match a registry answers for it unless a registries entry says otherwise; the keychain answers for everything else. Plugins come from "plugins" in the configuration file (docs/plugins.md).';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<unknown[]> {
    await this.parse(ProvidersCommand); // oclif warns about a command that never parses its arguments
    const router = await composeConfiguredRouter();
    const providers = router.providers();
    for (const provider of providers) {
      this.log(`${provider.name}: ${provider.about?.description ?? '(no description)'}`);
      if (provider.about) this.log(`  hosts    ${provider.about.hostPatterns.join('; ')}`);
      const options = Object.keys(provider.routes?.options ?? {});
      if (options.length > 0) this.log(`  options  ${options.join(', ')}`);
      const pod = provider.podIdentity?.annotations({});
      if (pod !== undefined) this.log(`  pods     in kubelet mode, as the pod; annotations ${pod.join(', ')}`);
    }
    return providers.map((provider) => ({
      name: provider.name,
      description: provider.about?.description ?? '',
      hostPatterns: provider.about?.hostPatterns ?? [],
      options: Object.fromEntries(
        Object.entries(provider.routes?.options ?? {}).map(([key, spec]) => [key, spec.description]),
      ),
      // The service-account annotations read when acting as a pod (kubelet mode); absent for node-only providers.
      ...(provider.podIdentity ? { podIdentityAnnotations: provider.podIdentity.annotations({}) } : {}),
    }));
  }
}
