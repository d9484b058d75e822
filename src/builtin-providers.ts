import { createEcrProvider } from '../plugins/ecr/index.js';
import { createGarProvider } from '../plugins/gar/index.js';
import { createStaticProvider } from '../plugins/static/index.js';
import type { Provider } from './core/provider.js';

/** The providers that ship with credrelay besides the keychain, in the order their host matchers are consulted. */
export const builtinProviders = (): Provider[] => [createEcrProvider(), createGarProvider(), createStaticProvider()];
