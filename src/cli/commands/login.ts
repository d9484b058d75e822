import { Args, Flags } from '@oclif/core';
import { CredrelayCommand } from '../shared/base-command.js';
import { composeCommandRouter, storeName } from '../shared/command-store.js';
import { loginTarget, storeLogin } from '../../service/command-service.js';
import { readSecretFromUser } from '../shared/read-secret.js';
import { CredrelayError } from '../../core/errors.js';
import { parseRegistry } from '../../core/registry/identity.js';
import { verifyLogin } from '../shared/login-check.js';

export default class LoginCommand extends CredrelayCommand {
  static override summary =
    'Check a username and password against a registry, then store them in the OS keychain (or the encrypted file store).';
  static override description = `The credential is checked as docker login checks it (the registry's /v2/ endpoint and its Basic or Bearer challenge), and stored only if the registry accepts it. On a terminal, the username and the hidden password are prompted for; otherwise use --username and --password-stdin. Plain HTTP is used only for loopback registries and those marked --insecure.

Registries whose tokens credrelay mints (ECR, Google, configured static entries) need no login: the command says so and stores nothing.`;
  static override args = {
    host: Args.string({ description: 'the registry, in any spelling (host[:port] or URL)', required: true }),
  };
  static override flags = {
    username: Flags.string({ char: 'u', description: 'the user name' }),
    'password-stdin': Flags.boolean({ description: 'read the password from stdin' }),
    insecure: Flags.boolean({ description: 'allow plain HTTP and any TLS certificate for this registry' }),
    verify: Flags.boolean({
      description: 'check the credential against the registry before storing it',
      default: true,
      allowNo: true,
    }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %> registry.example:5000',
    'printf %s "$TOKEN" | <%= config.bin %> <%= command.id %> registry.gitlab.com -u alice --password-stdin',
    '<%= config.bin %> <%= command.id %> registry.lab.example --insecure',
  ];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LoginCommand);
    const registry = parseRegistry(args.host);
    const { config, router } = await composeCommandRouter();
    const target = loginTarget(router, registry);
    if (!target.stored) {
      this.log(
        `${registry.key} is served by the ${target.provider} provider, which obtains its own credentials: no login is needed, nothing was stored (to keep a password for it, give it a registries entry {"provider": "keychain"})`,
      );
      return;
    }
    const interactive = process.stdin.isTTY === true;
    const username = flags.username ?? (interactive ? await this.prompt('Username: ') : undefined);
    if (!username) throw new CredrelayError('INVALID_INPUT', 'no username: pass --username (or -u)');
    if (!flags['password-stdin'] && !interactive) {
      throw new CredrelayError(
        'INVALID_INPUT',
        'cannot prompt for a password without a terminal: pipe it in with --password-stdin',
      );
    }
    const password = await readSecretFromUser('Password: ');
    if (password === '') throw new CredrelayError('INVALID_INPUT', 'no password given; nothing was stored');

    if (flags.verify) await verifyLogin(registry, username, password, flags.insecure);
    await storeLogin(
      router,
      { ServerURL: args.host, Username: username, Secret: password },
      { notice: (line) => this.logToStderr(line) },
    );
    this.log(
      `Login Succeeded: the credentials for ${registry.key} are in ${storeName(config)}${flags.verify ? '' : ' (not checked: --no-verify)'}`,
    );
  }

  /** A visible prompt on the terminal, for the username. */
  private async prompt(question: string): Promise<string> {
    const { createInterface } = await import('node:readline/promises');
    const readline = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return (await readline.question(question)).trim();
    } finally {
      readline.close();
    }
  }
}
