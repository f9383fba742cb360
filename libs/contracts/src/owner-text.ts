import type { ClientId } from './ids';

/**
 * Characters that must never reach an operator's screen or a log raw: C0 controls (newline,
 * carriage return, escape sequences that drive terminals), DEL, C1 controls, Unicode line and
 * paragraph separators and bidirectional overrides (which reorder what an operator reads). Logs
 * escape them (service-kit log-text.ts); an owner string holding one is shown as hex.
 */
// eslint-disable-next-line no-control-regex
export const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A client's owner string (nfs_client_id4) as an operator reads it. */
export interface ClientOwner {
  /** The client id: the owner as lowercase hex. */
  id: ClientId;
  /** `text` when the owner is valid UTF-8 without control characters, `hex` otherwise. */
  encoding: 'text' | 'hex';
  /** The owner decoded, when `encoding` is `text`. */
  text?: string;
}

const ANY_UNSAFE = new RegExp(UNSAFE_TEXT.source);
/**
 * What a screen shows as hex besides UNSAFE_TEXT: every other control, format, unassigned,
 * private-use or surrogate code point (zero-width characters make two owners look alike).
 */
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The owner decoded as text where it is printable (`Linux NFSv4.2 host1`: whole bytes of valid
 * UTF-8, none of UNSAFE_TEXT, not empty), hex otherwise (`0a0b0c`, a binary verifier).
 */
export function clientOwner(id: ClientId): ClientOwner {
  if (id.length === 0 || id.length % 2 !== 0 || !/^[0-9a-f]*$/.test(id)) return { id, encoding: 'hex' };
  let text: string;
  try {
    text = strictUtf8.decode(Buffer.from(id, 'hex'));
  } catch {
    return { id, encoding: 'hex' };
  }
  return ANY_UNSAFE.test(text) || UNPRINTABLE.test(text) ? { id, encoding: 'hex' } : { id, encoding: 'text', text };
}

/** The owner for a display: its text when printable, else the id itself (the console's form). */
export function ownerText(id: ClientId): { text: string; printable: boolean } {
  const owner = clientOwner(id);
  return owner.encoding === 'text' ? { text: owner.text!, printable: true } : { text: id, printable: false };
}

/** The client id of an owner typed as text (its UTF-8 bytes as hex). */
export function clientIdOfOwner(owner: string): ClientId {
  return Buffer.from(owner, 'utf8').toString('hex');
}

/** The owner in one token of a sentence: text in double quotes (JSON-escaped), hex bare. */
export function ownerShown(id: ClientId): string {
  const owner = clientOwner(id);
  return owner.encoding === 'text' ? JSON.stringify(owner.text) : id;
}

/** The owner for a heading, saying which form it is in: `"Linux NFS" (owner as text, id 4c69…)` or `0a0b0c (owner as hex)`. */
export function ownerHeading(id: ClientId): string {
  const owner = clientOwner(id);
  return owner.encoding === 'text' ? `${JSON.stringify(owner.text)} (owner as text, id ${id})` : `${id || '""'} (owner as hex)`;
}
