// Writes V8's code cache for the CLI bundle (see bin/cli-loader.cjs), after running `credrelay --help` once so that
// the functions a command start runs are compiled into it. Run by `npm run build`.
const { writeFileSync } = require('node:fs');
const { loadCli } = require('../bin/cli-loader.cjs');

const { exports: cli, script, cachePath } = loadCli(false);
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = () => true; // the help text is not the point here
cli.runCli(['--help']).then(
  () => {
    process.stdout.write = write;
    writeFileSync(cachePath, script.createCachedData());
  },
  (error) => {
    process.stdout.write = write;
    throw error;
  },
);
