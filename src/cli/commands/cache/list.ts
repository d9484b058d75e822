import type { CacheRow } from '../../../core/wire/contract.js';
import { CredrelayCommand } from '../../shared/base-command.js';
import { askDaemon } from '../../shared/daemon-connection.js';

export default class CacheListCommand extends CredrelayCommand {
  static override summary = 'List the tokens the daemon holds: registry, provider, expiry. Never a secret.';
  static override description =
    'Each token is shown with the identity it was minted for (an AWS profile or role, Google credentials) and when it will be refreshed: from half its lifetime, or 5 minutes before expiry, whichever is sooner. A provider whose token serves all its registries (Google) shows one entry with registry "*". Only short-lived tokens are cached; keychain credentials never are.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<readonly CacheRow[]> {
    await this.parse(CacheListCommand); // oclif warns about a command that never parses its arguments
    const rows = await askDaemon((v) => ({ v, op: 'cache-list' }));
    if (rows === undefined) {
      this.log('no daemon is running, so nothing is cached');
      return [];
    }
    if (rows.length === 0) this.log('the cache is empty');
    for (const row of rows) {
      const identity = row.identity ? ` as ${row.identity}` : '';
      this.log(`${row.registry}  ${row.provider}${identity}  expires ${row.expiresAt}  refresh from ${row.refreshAt}`);
    }
    return rows;
  }
}
