// Loads the management CLI's bundle (dist/src/cli/bundle.cjs) with V8's code cache for it, written at build by
// scripts/build.mjs (step "cli"): Node then skips compiling oclif's and credrelay's code at every start. A cache that
// does not fit (another Node, changed flags) is rejected by V8, and the bundle compiles as usual.
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'src', 'cli', 'bundle.cjs');
const CACHE = `${BUNDLE}.cache`;

/** The bundle's exports, and the script it ran (to write a cache from). */
function loadCli(useCache = true) {
  let cachedData;
  if (useCache) {
    try {
      cachedData = readFileSync(CACHE);
    } catch {
      cachedData = undefined; // not built yet, or removed: compile as usual
    }
  }
  // Functions restored from a code cache cannot run import() in Node 20: the bundle's dynamic imports call this one
  // (scripts/build.mjs rewrites them), which resolves from this package as the bundle would.
  globalThis.credrelayImport = (specifier) => import(specifier);
  const script = new vm.Script(Module.wrap(readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE, cachedData });
  const module = new Module(BUNDLE, require.main);
  module.filename = BUNDLE;
  module.paths = Module._nodeModulePaths(dirname(BUNDLE));
  // oclif loads the same file as its command list: it must find this instance, not load a second one.
  require.cache[BUNDLE] = module;
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  module.loaded = true;
  return { exports: module.exports, script, cachePath: CACHE };
}

module.exports = { loadCli };
