import { type Provider, type ProviderContext, type RegistryIdentity, referencedSecret } from '../../src/plugin-api.js';

const REFERENCE_OR_TEXT = /^[^\s]+$/;

/**
 * Fixed credentials for a configured registry: `{"username": "myuser", "password": "$DOCKERHUB_TOKEN"}`. The
 * password is always a secret reference, resolved at request time (keychain, then environment), so the configuration
 * file holds names, never secrets; the username may be literal or a reference too. It serves only registries that
 * a `registries` entry routes to it.
 */
export function createStaticProvider(): Provider {
  return {
    name: 'static',
    about: {
      description: 'A fixed username and a password from a named secret ($NAME: keychain, then environment)',
      hostPatterns: ['configured registries only'],
    },
    routes: {
      options: {
        username: {
          type: 'string',
          required: true,
          description: 'a user name, or a secret reference such as "$REGISTRY_USER"',
          pattern: REFERENCE_OR_TEXT,
        },
        password: {
          type: 'string',
          required: true,
          description:
            'a secret reference such as "$DOCKERHUB_TOKEN" (store the value with `credrelay secrets set DOCKERHUB_TOKEN`; a password is never written in the config file)',
          pattern: /^\$[A-Za-z_][A-Za-z0-9_]*$/,
        },
      },
      // A literal user name; a reference stays unresolved, so that `list` reads no secret.
      listedUsername: (options) =>
        referencedSecret(String(options.username)) === undefined ? String(options.username) : undefined,
    },
    matches: () => false,
    get,
    diagnostics: {
      async diagnose(registry, context) {
        await get(registry, context);
        const named = ['username', 'password'].flatMap((key) => referencedSecret(String(context.options[key])) ?? []);
        return `secret${named.length > 1 ? 's' : ''} ${named.join(' and ')} ${named.length > 1 ? 'are' : 'is'} set`;
      },
    },
  };
}

async function get(_registry: RegistryIdentity, context: ProviderContext) {
  const resolve = (value: string) => {
    const name = referencedSecret(value);
    return name === undefined ? Promise.resolve(value) : context.resolveSecret(name);
  };
  const [username, secret] = await Promise.all([
    resolve(String(context.options.username)),
    resolve(String(context.options.password)),
  ]);
  return { username, secret };
}
