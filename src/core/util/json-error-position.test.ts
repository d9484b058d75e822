import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorPosition } from './json-error-position.js';

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe('jsonErrorPosition', () => {
  it.each([
    ['{ this is not json', { line: 1, column: 3 }],
    ['{\n  "a": 1,\n  "b": tru\n}', { line: 3, column: 11 }],
    ['{"a":1,}', { line: 1, column: 8 }],
    ['[1,2', { line: 1, column: 5 }],
    ['"unterminated', { line: 1, column: 14 }],
    ['{"a": 1} trailing', { line: 1, column: 10 }],
    ['', { line: 1, column: 1 }],
  ])('places the error in %j', (text, position) => {
    expect(parses(text)).toBe(false);
    expect(jsonErrorPosition(text)).toEqual(position);
  });

  it('agrees with JSON.parse on what is valid', () => {
    const jsonish = fc.oneof(
      fc.json(),
      fc.json().map((text) => text.slice(0, Math.max(0, text.length - 1))),
      fc.string({
        unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '1', '-', 'e', '.', ' ', 't', '\\', 'u', '\n'),
      }),
    );
    fc.assert(
      fc.property(jsonish, (text) => {
        expect(jsonErrorPosition(text) === undefined).toBe(parses(text));
      }),
      { numRuns: 3000 },
    );
  });
});
