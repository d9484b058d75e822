export { COMMANDS } from './commands.js';

/** Runs the management CLI (oclif) with `args`; both executables end up here for anything but the protocol. */
export async function runCli(args: readonly string[]): Promise<void> {
  const { execute } = await import('@oclif/core');
  await execute({ args: [...args], dir: import.meta.url });
}
