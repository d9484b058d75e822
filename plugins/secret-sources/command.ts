import {
  CredrelayError,
  type SecretSource,
  findOnPath,
  foreignExcerpt,
  programEnvironment,
  runProgram,
} from '../../src/plugin-api.js';

/** What a command may print: a secret, not a file. */
const MAX_OUTPUT_BYTES = 256 * 1024;

/**
 * Runs a program whose standard output is the value (`sops -d --extract '["token"]' ci.enc.json`, `pass show
 * ci/hub`, `bw get password hub`, `op read op://…`): an argument vector, no shell; the program found through PATH's
 * absolute entries; the environment any program needs and the variables the configuration names
 * (`"environment"`); a deadline its descendants cannot hold. A trailing newline is not part of the value.
 */
export function runSecretCommand(
  argv: readonly string[],
  name: string,
  deadlineMs: number,
  extra: readonly string[] = [],
): Promise<string> {
  const env = programEnvironment(extra);
  const program = argv[0]!.startsWith('/') ? argv[0]! : findOnPath(argv[0]!, env.PATH ?? '');
  if (program === undefined) {
    throw new CredrelayError(
      'SECRET_MISSING',
      `secret ${name}: ${argv[0]} is not on PATH (only its absolute entries are searched): install it, or give its absolute path`,
    );
  }
  return runProgram({
    executable: program,
    args: argv.slice(1),
    env,
    deadlineMs,
    maxOutputBytes: MAX_OUTPUT_BYTES,
  }).then((run) => {
    if (run.timedOut)
      throw new CredrelayError(
        'SECRET_MISSING',
        `secret ${name}: ${argv[0]} did not finish within ${deadlineMs / 1000} s`,
      );
    if (run.overflowed)
      throw new CredrelayError('SECRET_INVALID', `secret ${name}: ${argv[0]} printed more than a secret (256 KiB)`);
    if (run.exitCode !== 0) {
      const said = foreignExcerpt(run.stderr.trim() || run.stdout.trim(), 200);
      throw new CredrelayError(
        'SECRET_MISSING',
        `secret ${name}: ${argv[0]} failed (exit ${run.exitCode ?? 'signal'})${said ? `: ${said}` : ''}`,
      );
    }
    return run.stdout.replace(/\r?\n$/, '');
  });
}

export const commandSource: SecretSource = {
  name: 'command',
  options: {
    command: {
      type: 'list',
      required: true,
      description:
        'the program and its arguments, as a list (["sops", "-d", "--extract", "[\\"token\\"]", "ci.enc.json"])',
    },
  },
  describe: (options) => `the command ${String((options.command as string[])[0])}`,
  fetch: (options, context) => runSecretCommand(options.command as string[], context.name, context.deadlineMs),
};
