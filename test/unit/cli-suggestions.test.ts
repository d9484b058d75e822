import { describe, expect, it } from 'vitest';
import { unknownCommand } from '../../src/cli/run.js';

describe('a command the CLI does not know', () => {
  it('is answered with the closest command', () => {
    expect(unknownCommand(['secret', 'list'])).toBe(
      'credrelay: "secret" is not a credrelay command; did you mean `credrelay secrets list`? (`credrelay --help` lists them)',
    );
    expect(unknownCommand(['doctr'])).toMatch(/did you mean `credrelay doctor`\?/);
    expect(unknownCommand(['configure-dokcer', '--registries', 'x'])).toMatch(
      /did you mean `credrelay configure-docker`\?/,
    );
  });

  it('with no suggestion when nothing is close, and never for commands, topics, flags or help', () => {
    expect(unknownCommand(['frobnicate-everything'])).toBe(
      'credrelay: "frobnicate-everything" is not a credrelay command (`credrelay --help` lists them)',
    );
    for (const args of [['secrets', 'list'], ['secrets'], ['daemon', 'stop', '--all'], ['--help'], ['help', 'x'], []])
      expect(unknownCommand(args)).toBeUndefined();
  });
});
