// Writes oclif.manifest.json from the built commands, as `oclif manifest` does in oclif's own plugins: with it, the
// CLI learns every command's id, flags and summary from one JSON file instead of importing all command modules on
// each start. Run by `npm run build`, after tsc.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
const commands = Object.keys(plugin.manifest.commands);
if (commands.length === 0) throw new Error('no commands found in dist/src/commands: build first');
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
