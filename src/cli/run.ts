import { execute } from '@oclif/core';
import { COMMANDS } from './commands.js';

// oclif reads the command classes from bin/cli-commands.cjs, which requires this bundle: bin/cli-loader.cjs has put
// the running instance in require's cache, so that is this very module, not a second copy with a second oclif.
export { COMMANDS };

/** Runs the management CLI (oclif) with `args`; both executables end up here for anything but the protocol. */
export async function runCli(args: readonly string[]): Promise<void> {
  const unknown = unknownCommand(args);
  if (unknown !== undefined) {
    process.stderr.write(`${unknown}\n`);
    process.exitCode = 2;
    return;
  }
  // The package root itself (where package.json is), so that oclif need not search upwards for it.
  await execute({ args: [...args], dir: new URL('../../../', import.meta.url).href });
}

/** Topics and commands as typed, `secrets list` for `secrets:list`; oclif's own spelling works too. */
const typedIds = (): string[] => Object.keys(COMMANDS).map((id) => id.replace(/:/g, ' '));

/**
 * A first word that is neither a command, a topic, a flag nor help: what the user meant, by edit distance over the
 * command names (one or two words), so that `credrelay secret list` points at `credrelay secrets list`.
 */
export function unknownCommand(args: readonly string[]): string | undefined {
  const first = args[0];
  if (first === undefined || first.startsWith('-') || first === 'help' || first === 'autocomplete') return undefined;
  const ids = typedIds();
  const known = new Set(ids.flatMap((id) => [id, id.split(' ')[0]!]));
  if (known.has(first) || Object.keys(COMMANDS).includes(first)) return undefined;
  const typed = args
    .slice(0, 2)
    .filter((word) => !word.startsWith('-'))
    .join(' ');
  const closest = ids
    .map((id) => ({ id, distance: editDistance(typed, id.split(' ').slice(0, typed.split(' ').length).join(' ')) }))
    .sort((a, b) => a.distance - b.distance)[0];
  const suggestion =
    closest !== undefined && closest.distance <= 3 ? `; did you mean \`credrelay ${closest.id}\`?` : '';
  return `credrelay: "${first}" is not a credrelay command${suggestion} (\`credrelay --help\` lists them)`;
}

/** Levenshtein distance: few and short names, so the plain table. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
