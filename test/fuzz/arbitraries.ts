import fc from 'fast-check';

/** Nasty characters: controls, bidi overrides, zero-width, look-alikes, percent and backslash. */
const NASTY = [
  '\u0000',
  '\u0007',
  '\t',
  '\n',
  '\r',
  ' ',
  '\u202e',
  '\u2066',
  '\u200b',
  '\ufeff',
  '\u0430',
  '\u0456',
  '%',
  '%2e',
  '\\',
  '@',
  '#',
  '?',
  '/',
  ':',
  '[',
  ']',
  '..',
  '*',
];

export const nastyString = fc
  .array(fc.oneof(fc.string(), fc.constantFrom(...NASTY), fc.string({ unit: 'binary' })), { maxLength: 12 })
  .map((parts) => parts.join(''));

/** Random bytes, including invalid UTF-8. */
export const randomBytes = fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes));

export const dnsLabel = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);

/** Server strings built the way attackers build them: real-looking parts glued with separators and decorations. */
export const serverLikeString = fc
  .tuple(
    fc.constantFrom('', 'https://', 'http://', 'ftp://', 'HTTPS://', '//', 'user@', 'https://user:pw@'),
    fc.array(dnsLabel, { minLength: 1, maxLength: 5 }),
    fc.constantFrom('', ':443', ':5000', ':0', ':65536', ':99999', ':-1', ':x', ':'),
    fc.constantFrom('', '/', '/v2/', '/a/b', '?x', '#y', '\\@evil.example', '@evil.example', ' ', '%2f'),
  )
  .map(([scheme, labels, port, tail]) => `${scheme}${labels.join('.')}${port}${tail}`);

/** Deeply nested JSON, up to `depth` levels. */
export const deepJson = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
