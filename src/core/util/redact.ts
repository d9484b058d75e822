/**
 * Text from outside (a library's message, a value the user or a peer supplied) goes into credrelay's error messages
 * only through these: error messages reach Docker's output, `doctor --json` and the daemon's log, and must never
 * carry a secret that happened to be in the input.
 */

/** `https://alice:S3cret@registry.example` → `https://***@registry.example`: user names and passwords in URLs go. */
export function redactUserinfo(text: string): string {
  return text.replace(/(^|[\s"'(=/])[^\s"'@/()]+@(?=[A-Za-z0-9[])/g, '$1***@');
}

/**
 * A short excerpt of a foreign message: its first line, anything it quotes replaced by `"…"` (parsers quote the
 * input they failed on), control characters (terminal escapes) as spaces, bounded to `max` characters.
 */
export function foreignExcerpt(text: string, max = 200): string {
  const line = (text.split('\n')[0] ?? '')
    .replace(/"[^"]*"?|'[^']*'?|`[^`]*`?/g, '"…"')
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** A user-supplied value as an error may show it: quoted when short and printable, else only its length. */
export function shownValue(value: unknown, max = 64): string {
  if (typeof value !== 'string') return `a ${value === null ? 'null' : typeof value}`;
  if (value.length <= max && /^[\x20-\x7e]*$/.test(value)) return JSON.stringify(redactUserinfo(value));
  return `a value of ${value.length} characters (not shown)`;
}
