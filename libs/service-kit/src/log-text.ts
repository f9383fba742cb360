import { UNSAFE_TEXT } from '#contracts';

/**
 * Characters that would let a value from outside (a forged client id, actor or cluster key, a
 * request line) forge or hide log lines (#contracts UNSAFE_TEXT: controls, separators, bidi overrides).
 */
const UNSAFE = UNSAFE_TEXT;

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

/** A stack trace for a log: its line breaks kept (it comes from our code), every other unsafe character escaped. */
export function escapeStack(stack: string): string {
  return stack.split('\n').map(escapeControlChars).join('\n');
}
