import { createEcrProvider } from '../plugins/ecr/index.js';
import type { Provider } from './provider.js';

/** The cloud providers that ship with credrelay, in the order their host matchers are consulted. */
export const builtinProviders = (): Provider[] => [createEcrProvider()];
