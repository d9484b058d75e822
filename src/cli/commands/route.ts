import { Args } from '@oclif/core';
import { askDaemon } from '../shared/daemon-connection.js';
import { CredrelayCommand } from '../shared/base-command.js';
import { commandRouting, describeStore } from '../shared/command-store.js';
import { parseRegistry } from '../../core/registry/identity.js';
import { jobIdentityLine } from '../../routing/job-identity.js';
import { EVERY_REGISTRY } from '../../routing/router.js';
import { referencedSecret } from '../../core/secrets/secret-name.js';

export default class RouteCommand extends CredrelayCommand {
  static override summary = 'Explain which provider answers for a registry, and why.';
  static override description =
    'Shows the parsed registry identity, the registries entry or provider matcher that claims it (or the keychain fallback), the provider and the options it will use (secret references are named, never resolved), whether the daemon holds a token for it, and which store keeps long-lived secrets.';
  static override args = { host: Args.string({ description: 'the registry, in any spelling', required: true }) };
  static override examples = [
    '<%= config.bin %> <%= command.id %> 123456789012.dkr.ecr.us-east-1.amazonaws.com',
    '<%= config.bin %> <%= command.id %> https://index.docker.io/v1/ --json',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<Record<string, unknown>> {
    const { args } = await this.parse(RouteCommand);
    const registry = parseRegistry(args.host);
    const { config, store, router: routing } = commandRouting();
    // The router, the daemon's cache and the store's state are independent questions: asked at once.
    const [router, rows, storeLine] = await Promise.all([
      routing,
      askDaemon((v) => ({ v, op: 'cache-list' })).catch(() => undefined),
      describeStore(config, store),
    ]);
    const decision = router.decide(registry);
    const reason =
      decision.reason.kind === 'registries'
        ? `the registries entry ${JSON.stringify(decision.reason.key)}`
        : decision.reason.kind === 'matcher'
          ? `the ${decision.provider.name} provider's host matcher (${decision.provider.about?.hostPatterns.join(', ') ?? 'its own hosts'})`
          : 'no registries entry or provider claims it, so the keychain answers';
    const options = Object.entries(decision.options).map(([key, value]) => {
      const secret = typeof value === 'string' ? referencedSecret(value) : undefined;
      return secret === undefined ? `${key}=${String(value)}` : `${key}=$${secret} (secret ${secret}, not shown)`;
    });
    const cached = rows?.find(
      (row) =>
        row.provider === decision.provider.name && (row.registry === registry.key || row.registry === EVERY_REGISTRY),
    );
    const cache =
      rows === undefined
        ? 'no daemon is running, so nothing is cached'
        : cached
          ? `cached until ${cached.expiresAt} (refresh from ${cached.refreshAt})`
          : 'not cached';

    this.log(
      `registry   ${registry.key} (host ${registry.host}${registry.port === undefined ? '' : `, port ${registry.port}`}${registry.isDockerHub ? ', Docker Hub' : ''})`,
    );
    this.log(`routed by  ${reason}`);
    this.log(`provider   ${decision.provider.name}: ${decision.provider.about?.description ?? '(no description)'}`);
    this.log(`options    ${options.length === 0 ? 'none' : options.join(', ')}`);
    if (decision.jobIdentity !== undefined) this.log(`identity   ${jobIdentityLine(decision.jobIdentity)}`);
    this.log(`cache      ${cache}`);
    this.log(`store      ${storeLine}`);
    return {
      registry: registry.key,
      reason: decision.reason,
      provider: decision.provider.name,
      options: decision.options,
      ...(decision.jobIdentity ? { jobIdentity: decision.jobIdentity } : {}),
      cache: cached ?? null,
      store: config.store,
    };
  }
}
