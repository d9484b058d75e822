import {
  type Credential,
  type Provider,
  type ProviderContext,
  type RegistryIdentity,
  SECRET_NAME,
  stringOption,
} from '../../src/plugin-api.js';
import { isGoogleRegistry } from './gar-host.js';
import {
  type GoogleTokenOptions,
  type GoogleTokenRequest,
  mintGoogleToken,
  parseServiceAccountKey,
} from './token-source.js';

export interface GarProviderOptions {
  /** Replaces the token exchange in unit tests. */
  readonly mintToken?: (request: GoogleTokenRequest) => Promise<Credential>;
  /** Passed to google-auth-library (tests give it a transport that receives the requests). */
  readonly tokenOptions?: GoogleTokenOptions;
}

/**
 * Google Artifact Registry and Container Registry: `oauth2accesstoken` and a one-hour OAuth2 access token from
 * Application Default Credentials, from a service-account key kept in the keychain (`keySecret`), optionally
 * impersonating a service account. Docker only ever sees the hour-long token, never the key.
 */
export function createGarProvider(dependencies: GarProviderOptions = {}): Provider {
  const mintToken =
    dependencies.mintToken ?? ((request: GoogleTokenRequest) => mintGoogleToken(request, dependencies.tokenOptions));
  const get = async (registry: RegistryIdentity, context: ProviderContext): Promise<Credential> => {
    const keySecret = stringOption(context.options, 'keySecret');
    const source: GoogleTokenRequest['source'] = keySecret
      ? {
          kind: 'key',
          secretName: keySecret,
          key: parseServiceAccountKey(await context.resolveSecret(keySecret), keySecret),
        }
      : { kind: 'adc' };
    const credential = await mintToken({
      source,
      impersonate: stringOption(context.options, 'impersonate'),
      registry: registry.key,
    });
    context.logger.redact(credential.secret);
    return credential;
  };
  return {
    name: 'gar',
    about: {
      description:
        'Google Artifact Registry and Container Registry: one-hour OAuth2 tokens (ADC, a stored key, or impersonation)',
      hostPatterns: ['gcr.io', '<one label>.gcr.io', '<location>-docker.pkg.dev', 'docker.<location>.rep.pkg.dev'],
    },
    routes: {
      options: {
        keySecret: {
          type: 'string',
          description:
            'the name of a secret holding a service-account key (JSON or base64 JSON), such as "GOOGLE_AR_KEY"',
          pattern: SECRET_NAME,
        },
        impersonate: {
          type: 'string',
          description: 'a service-account email such as "puller@project.iam.gserviceaccount.com"',
          pattern: /^[a-z0-9._+-]+@[a-z0-9.-]+\.gserviceaccount\.com$/,
        },
      },
    },
    cachePolicy: {
      // One token opens every Google registry, so the daemon keeps one per identity rather than one per host.
      sharedAcrossRegistries: true,
      identity(options) {
        const keySecret = stringOption(options, 'keySecret');
        const impersonate = stringOption(options, 'impersonate');
        return `${keySecret ? `key in secret ${keySecret}` : 'application default credentials'}${impersonate ? ` as ${impersonate}` : ''}`;
      },
    },
    matches: isGoogleRegistry,
    get,
    diagnostics: {
      async diagnose(registry, context) {
        const credential = await get(registry, context);
        const keySecret = stringOption(context.options, 'keySecret');
        const impersonate = stringOption(context.options, 'impersonate');
        const source = keySecret ? `the service-account key in secret ${keySecret}` : 'Application Default Credentials';
        return `minted a Google access token valid until ${credential.expiresAt?.toISOString() ?? 'an unknown time'} from ${source}${impersonate ? ` as ${impersonate}` : ''}`;
      },
    },
  };
}
