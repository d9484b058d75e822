import { describe, expect, it } from 'vitest';
import { foreignExcerpt, redactUserinfo, shownValue } from './redact.js';

describe('redaction of foreign text', () => {
  it.each([
    ['https://alice:S3cret@registry.example', 'https://***@registry.example'],
    ['alice:S3cret@registry.example:5000', '***@registry.example:5000'],
    ['registries "https://u:p@r.example/v2/" is bad', 'registries "https://***@r.example/v2/" is bad'],
    ['registry.example', 'registry.example'],
  ])('redactUserinfo(%j)', (text, expected) => {
    expect(redactUserinfo(text)).toBe(expected);
  });

  it('drops what a parser quotes, keeps one bounded line', () => {
    const message = `Unexpected token 'P', "Pa55w0rd!-canary" is not valid JSON\nsecond line`;
    const excerpt = foreignExcerpt(message);
    expect(excerpt).toBe('Unexpected token "…", "…" is not valid JSON');
    expect(foreignExcerpt('x'.repeat(500), 100)).toHaveLength(101);
  });

  it.each([
    ["the registry's token service can't be reached", "the registry's token service can't be reached"],
    ["users' keys aren't here; it's 'quoted' (and 'this')", 'users\' keys aren\'t here; it\'s "…" (and "…")'],
    ["don't stop at an open 'quote", "don't stop at an open 'quote"],
  ])('keeps ordinary words whole, apostrophes and all: %j', (text, expected) => {
    expect(foreignExcerpt(text)).toBe(expected);
  });

  it('replaces what looks like a credential, and only that', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvIn0.c2lnbmF0dXJlLXBhcnQ';
    expect(foreignExcerpt(`invalid token ${jwt} for audience x`)).toBe('invalid token [token] for audience x');
    expect(foreignExcerpt('sent Authorization: Bearer ghs_0123456789abcdefABCDEF0123')).toBe(
      'sent Authorization: Bearer [token]',
    );
    expect(foreignExcerpt('refused: password=hunter22 user=alice')).toBe('refused: password=[redacted] user=alice');
    expect(foreignExcerpt('api key AKIAIOSFODNN7EXAMPLE0123 rejected')).toBe('api key [redacted] rejected');
    expect(foreignExcerpt('see https://docs.example/errors/registry-unavailable-2024')).toBe(
      'see https://docs.example/errors/registry-unavailable-2024',
    );
  });

  it('shows a short printable value, and only the length of anything else', () => {
    expect(shownValue('credentialprovider.kubelet.k8s.io/v9')).toBe('"credentialprovider.kubelet.k8s.io/v9"');
    expect(shownValue(`${'x'.repeat(100)}canary`)).toBe('a value of 106 characters (not shown)');
    expect(shownValue('line\nbreak')).toBe('a value of 10 characters (not shown)');
    expect(shownValue(42)).toBe('a number');
    expect(shownValue('https://u:canary@r.example')).toBe('"https://***@r.example"');
  });
});
