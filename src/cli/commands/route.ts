import { Args } from '@oclif/core';
import { askDaemon } from '../shared/daemon-connection.js';
import { CredrelayCommand } from '../shared/base-command.js';
import { commandRouting, describeStore } from '../shared/command-store.js';
import { parseRepositoryReference } from '../../core/registry/registry-pattern.js';
import { explainRoute } from '../../service/command-service.js';
import { configuredSecrets } from '../../compose.js';
import { referencedSecret } from '../../core/secrets/secret-name.js';

export default class RouteCommand extends CredrelayCommand {
  static override summary = 'Explain which provider answers for a registry, or one of its repositories, and why.';
  static override description =
    'Shows the parsed registry identity, the registries entry or provider matcher that claims it (or the keychain fallback), the provider and the options it will use (secret references are named, never resolved), whether the daemon holds a token for it, and which store keeps long-lived secrets. With a repository path (HOST/PATH) it explains the route the kubelet takes for images there, where routes differ by repository.';
  static override args = {
    host: Args.string({
      description: 'the registry, in any spelling, or a repository of it (HOST/PATH)',
      required: true,
    }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %> 123456789012.dkr.ecr.us-east-1.amazonaws.com',
    '<%= config.bin %> <%= command.id %> us-docker.pkg.dev/team-a/app',
    '<%= config.bin %> <%= command.id %> https://index.docker.io/v1/ --json',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<Record<string, unknown>> {
    const { args } = await this.parse(RouteCommand);
    const { registry, repository } = parseRepositoryReference(args.host);
    const { config, store, router: routing } = commandRouting();
    // The router, the daemon's cache and the store's state are independent questions: asked at once.
    const [router, rows, storeLine] = await Promise.all([
      routing,
      askDaemon((v) => ({ v, op: 'cache-list' })).catch(() => undefined),
      describeStore(config, store),
    ]);
    const route = explainRoute(router, registry, rows, repository);
    const cache =
      rows === undefined
        ? 'no daemon is running, so nothing is cached'
        : route.cached
          ? `cached until ${route.cached.expiresAt} (refresh from ${route.cached.refreshAt})${route.cached.shortLived ? '; its issuer gives no longer-lived token (less than 15 minutes when fetched), so callers that keep an answer longer will find it expired' : ''}`
          : 'not cached';

    this.log(
      `registry   ${registry.key} (host ${registry.host}${registry.port === undefined ? '' : `, port ${registry.port}`}${registry.isDockerHub ? ', Docker Hub' : ''})${repository === undefined ? '' : `, repository ${repository.join('/')}`}`,
    );
    this.log(`routed by  ${route.because}`);
    this.log(`provider   ${route.provider.name}: ${route.provider.description}`);
    this.log(`options    ${route.shownOptions.length === 0 ? 'none' : route.shownOptions.join(', ')}`);
    // Where each secret the route names comes from: never its value, and nothing is read to say it.
    const managed = configuredSecrets(config);
    for (const value of Object.values(route.options)) {
      const name = typeof value === 'string' ? referencedSecret(value) : undefined;
      if (name === undefined) continue;
      this.log(`secret     ${name}: ${managed.describe(name) ?? "the store, then the caller's environment"}`);
    }
    if (route.identity !== undefined) this.log(`identity   ${route.identity}`);
    this.log(`cache      ${cache}`);
    this.log(
      `store      ${route.readsStore ? storeLine : `not read by this route (${config.store === 'file' ? 'the file store' : 'the OS keychain'} keeps only what the keychain provider and $NAME secrets hold)`}`,
    );
    return {
      registry: registry.key,
      reason: route.reason,
      provider: route.provider.name,
      options: route.options,
      ...(route.jobIdentity ? { jobIdentity: route.jobIdentity } : {}),
      cache: route.cached ?? null,
      store: config.store,
    };
  }
}
