import { CredrelayCommand } from '../../shared/base-command.js';
import { Args } from '@oclif/core';
import { askDaemon } from '../../shared/daemon-connection.js';

export default class CacheClearCommand extends CredrelayCommand {
  static override summary = 'Forget cached tokens, for every registry or for one; the next request fetches afresh.';
  static override description =
    'Useful after changing AWS or Google credentials, to stop using a token minted with the old ones. Clearing a Google host forgets the one token every Google host shares.';
  static override args = {
    host: Args.string({
      description: 'registry whose tokens to forget, in any spelling (host[:port] or URL)',
      required: false,
    }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> 123456789012.dkr.ecr.us-east-1.amazonaws.com',
  ];

  async run(): Promise<void> {
    const { args } = await this.parse(CacheClearCommand);
    const answer = await askDaemon((v) => ({
      v,
      op: 'cache-clear',
      ...(args.host ? { host: args.host } : {}),
    }));
    if (answer === undefined) {
      this.log('no daemon is running, so nothing is cached');
      return;
    }
    this.log(`removed ${answer.removed} cached token(s)`);
  }
}
