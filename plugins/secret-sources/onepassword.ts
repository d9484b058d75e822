import { CredrelayError, type SecretSource } from '../../src/plugin-api.js';
import { runSecretCommand } from './command.js';

/** What the 1Password CLI reads to sign in without a person: a service account, or a Connect server. */
const OP_VARIABLES = ['OP_SERVICE_ACCOUNT_TOKEN', 'OP_CONNECT_HOST', 'OP_CONNECT_TOKEN', 'OP_ACCOUNT'];

/**
 * 1Password through its CLI: `op read op://VAULT/ITEM/FIELD`, signed in with a service-account token
 * (`OP_SERVICE_ACCOUNT_TOKEN`) in the caller's environment, as CI and servers do.
 */
export const onePasswordSource: SecretSource = {
  name: '1password',
  options: {
    reference: {
      type: 'string',
      required: true,
      description: 'a secret reference, op://VAULT/ITEM/FIELD',
      pattern: /^op:\/\/[^/\s]+\/[^/\s]+(?:\/[^/\s]+){1,2}$/,
    },
  },
  describe: (options) => `1Password ${String(options.reference)}`,
  fetch: (options, context) =>
    runSecretCommand(
      ['op', 'read', '--no-newline', String(options.reference)],
      context.name,
      context.deadlineMs,
      OP_VARIABLES,
    ).catch((error: unknown) => {
      const message = (error as Error).message;
      if (!/not (currently )?signed in|no account|service account token/i.test(message)) throw error;
      throw new CredrelayError(
        'SECRET_MISSING',
        `${message}: op is not signed in; set OP_SERVICE_ACCOUNT_TOKEN (a 1Password service account's token) in the environment of the program that asks for the credential`,
      );
    }),
};
