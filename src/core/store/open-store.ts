import type { StoreSetting } from '../config.js';
import { CredrelayError, isCredrelayError } from '../errors.js';
import { createFileStore } from './file-store.js';
import { createOsKeychain } from './os-keychain.js';
import type { SecretStore } from './secret-store.js';
import { createStoreKeySource } from './store-key.js';

const fileStoreHint = (configPath: string | undefined) =>
  `on a machine without a keychain, turn on the encrypted file store with "store": "file" in ${configPath ?? 'the credrelay config'}`;

/** One OS keychain per process, so that the keychain never holds more than its one thread. */
let osKeychain: SecretStore | undefined;
const sharedOsKeychain = (): SecretStore => (osKeychain ??= createOsKeychain());

interface OpenStoreOptions {
  readonly setting: StoreSetting;
  /** The file store's path (`$XDG_DATA_HOME/credrelay/store.json`). */
  readonly filePath: string;
  /** The configuration file that chose the store, for messages that say where to change it. */
  readonly configPath?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** The store for a configuration. */
export function openStore(options: OpenStoreOptions): SecretStore {
  if (options.setting === 'file') {
    return createFileStore({ path: options.filePath, keys: createStoreKeySource(options.env, options.configPath) });
  }
  const keychain = sharedOsKeychain();
  return options.setting === 'auto' ? withFileStoreHint(keychain, fileStoreHint(options.configPath)) : keychain;
}

/** Adds how to turn on the file store to "there is no keychain here" errors. */
function withFileStoreHint(store: SecretStore, hint: string): SecretStore {
  const hinted =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      call(...args).catch((error: unknown) => {
        if (!isCredrelayError(error, 'KEYCHAIN_UNAVAILABLE')) throw error;
        throw new CredrelayError(error.code, error.message.replace(/, or run `credrelay doctor`/, `; ${hint}$&`));
      });
  return {
    getPassword: hinted(store.getPassword),
    setPassword: hinted(store.setPassword),
    deletePassword: hinted(store.deletePassword),
    findCredentials: hinted(store.findCredentials),
    ...(store.describe ? { describe: store.describe } : {}),
  };
}
