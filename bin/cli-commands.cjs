// oclif's list of commands ("explicit" discovery in package.json). oclif imports this file itself, as a module of
// its own; the commands must be the very classes of the bundle that runs (bin/cli-loader.cjs), not a second copy of
// the bundle with a second copy of oclif, whose errors the first would not recognise.
module.exports = { COMMANDS: globalThis.credrelayCommands ?? require('../dist/src/cli/bundle.cjs').COMMANDS };
