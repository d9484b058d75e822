import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';

let loaded: typeof NodeCrypto | undefined;

/**
 * node:crypto, loaded on first use. Loading it costs several milliseconds, which a CLI command or a daemon that
 * never touches the encrypted file store should not pay at start.
 */
export const nodeCrypto = (): typeof NodeCrypto =>
  (loaded ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto);
