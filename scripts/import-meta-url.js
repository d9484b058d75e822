// Injected by esbuild into the CommonJS bundle of the client path, where import.meta does not exist.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
