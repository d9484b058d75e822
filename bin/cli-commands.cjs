// oclif's list of commands ("explicit" discovery in package.json). oclif loads this file itself; the bundle it
// requires is the one already running (bin/cli-loader.cjs put it in require's cache), so the commands are the very
// classes of the running oclif, never a second copy whose errors the first would not recognise.
// test/integration/build.test.ts fails if a second copy is ever compiled.
module.exports = { COMMANDS: require('../dist/src/cli/bundle.cjs').COMMANDS };
