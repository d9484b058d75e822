import { execute } from '@oclif/core';
import { COMMANDS } from './commands.js';

export { COMMANDS };
// For bin/cli-commands.cjs: oclif reads the command classes of this very bundle from there.
(globalThis as { credrelayCommands?: typeof COMMANDS }).credrelayCommands = COMMANDS;

/** Runs the management CLI (oclif) with `args`; both executables end up here for anything but the protocol. */
export async function runCli(args: readonly string[]): Promise<void> {
  // The package root itself (where package.json is), so that oclif need not search upwards for it.
  await execute({ args: [...args], dir: new URL('../../../', import.meta.url).href });
}
