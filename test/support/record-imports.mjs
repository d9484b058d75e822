// Loaded with `node --import`: records every module the process loads, ES modules (through a resolve hook) and
// CommonJS (through Module._load), into $CREDRELAY_TEST_IMPORTS_FILE, so tests can prove what a path loads.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

// The main thread only: `--import` runs again in each worker (the keychain's thread), whose loads are its own.
const file = isMainThread ? process.env.CREDRELAY_TEST_IMPORTS_FILE : undefined;
if (file) register('./record-imports-hooks.mjs', import.meta.url, { data: { file } });

const load = Module._load;
Module._load = function recordingLoad(request, parent, isMain) {
  if (file) {
    let resolved = request;
    try {
      resolved = request.startsWith('node:')
        ? request
        : pathToFileURL(Module._resolveFilename(request, parent, isMain)).href;
    } catch {
      // Builtins without the node: prefix, and failures the real loader will report itself.
    }
    appendFileSync(file, `${resolved}\n`);
  }
  return load.apply(this, arguments);
};
