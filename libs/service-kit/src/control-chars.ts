/**
 * Characters that would let a value from outside (a forged client id, actor or cluster key, a
 * request line) forge or hide log lines: C0 controls (newline, carriage return, escape sequences
 * that drive terminals), DEL, C1 controls, Unicode line/paragraph separators and bidirectional
 * overrides (which reorder what an operator reads).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every unsafe character written as a visible escape (`\n`, `\x1b`, `\u202e`); safe text is returned unchanged. */
export function escapeControlChars(text: string): string {
  return text.replace(UNSAFE, (c) => {
    switch (c) {
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
    }
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
