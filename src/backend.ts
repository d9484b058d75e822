import { createKeychainProvider } from '../plugins/keychain/index.js';
import type { TokenCache } from './cache/token-cache.js';
import type { Config } from './config.js';
import type { Logger } from './daemon/logger.js';
import type { CredentialBackend } from './protocol/handler.js';
import { createRouter } from './router.js';

export interface BackendOptions {
  readonly config: Config;
  readonly cache?: TokenCache;
  readonly logger?: Logger;
}

/** Builds what answers the protocol from a configuration: the same in the daemon and in a helper process. */
export function createBackend(options: BackendOptions): CredentialBackend {
  return createRouter(createKeychainProvider(), {
    ...(options.cache ? { cache: options.cache } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
