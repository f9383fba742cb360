/**
 * Client owners (nfs_client_id4 / cld_name) are opaque bytes, stored as lowercase hex (ids.ts).
 * Linux clients send readable text ("Linux NFSv4.1 host…"): audits show it as text when every
 * character is printable, as hex otherwise. The text is attacker-controlled: whoever displays it
 * must still escape it (textContent in the console, escaped log lines).
 */
export interface OwnerText {
  /** The owner as text when printable, else its hex (the client id itself). */
  text: string;
  printable: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Control, format, unassigned, private-use and surrogate code points, and line/paragraph separators. */
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;

export function ownerText(clientId: string): OwnerText {
  if (clientId === '' || !/^([0-9a-f]{2})+$/.test(clientId)) return { text: clientId, printable: false };
  let text: string;
  try {
    text = decoder.decode(Buffer.from(clientId, 'hex'));
  } catch {
    return { text: clientId, printable: false };
  }
  return UNPRINTABLE.test(text) ? { text: clientId, printable: false } : { text, printable: true };
}

/** The client id of an owner typed as text (its UTF-8 bytes as hex). */
export function clientIdOfOwner(owner: string): string {
  return Buffer.from(owner, 'utf8').toString('hex');
}
