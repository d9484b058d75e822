import { execute } from '@oclif/core';

/** Runs the management CLI (oclif) with `args`; both executables end up here for anything but the protocol. */
export async function runCli(args: readonly string[]): Promise<void> {
  await execute({ args: [...args], dir: import.meta.url });
}
