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
 * Quoted spans (parsers quote the input they failed on): double quotes and backticks anywhere; single quotes only
 * around a span, opened after a space or punctuation and closed before one, so that an apostrophe inside or at the
 * end of a word (`registry's`, `can't`, `users'`) is text, not a quote. An unclosed quote quotes nothing.
 */
const QUOTED = /"[^"\n]*"|`[^`\n]*`|(?<=^|[\s([{=:,])'[^'\n]*'(?=$|[\s)\]},.;:!?])/g;

/** What looks like a credential in free text: JWTs, `Bearer`/`Basic` values, `key=value` of a secret-named key,
 * and long runs of token characters mixing letters and digits (API keys, base64). */
const SECRET_SHAPES: ReadonlyArray<[RegExp, string]> = [
  [/\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, '[token]'],
  [/\b(bearer|basic)\s+[^\s,;]+/gi, '$1 [token]'],
  [/\b([\w-]*(?:token|secret|password|passwd|key|assertion|credential)s?)(\s*[=:]\s*)[^\s,;&]+/gi, '$1$2[redacted]'],
  [/(?<![\w/.-])(?=[\w+/=-]*\d)(?=[\w+/=-]*[A-Za-z])[\w+/=-]{24,}/g, '[redacted]'],
];

/**
 * A short excerpt of a foreign message: its first line, what it quotes replaced by `"…"` and what looks like a
 * credential by `[token]` or `[redacted]` (ordinary words, apostrophes and all, stay), user names and passwords in
 * URLs removed, control characters (terminal escapes) as spaces, bounded to `max` characters.
 */
export function foreignExcerpt(text: string, max = 200): string {
  let line = (text.split('\n')[0] ?? '').replace(QUOTED, '"…"');
  for (const [shape, replacement] of SECRET_SHAPES) line = line.replace(shape, replacement);
  line = redactUserinfo(line)
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
