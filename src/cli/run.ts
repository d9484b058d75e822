export { COMMANDS } from './commands.js';

/** Runs the management CLI (oclif) with `args`; both executables end up here for anything but the protocol. */
export async function runCli(args: readonly string[]): Promise<void> {
  const { execute } = await import('@oclif/core');
  // The package root itself (where package.json is), so that oclif need not search upwards for it.
  await execute({ args: [...args], dir: new URL('../../../', import.meta.url).href });
}
