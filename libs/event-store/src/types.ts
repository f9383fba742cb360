/** What a decode produced: a message, or a description of why the bytes are not one. */
export type DecodeResult<M> =
  | { ok: true; value: M }
  | { ok: false; error: DecodeError };

export interface DecodeError {
  /** A short machine-readable class, e.g. `json`, `schema`, `unknown-type`. */
  kind: string;
  message: string;
}

/**
 * How the store turns the caller's messages into bytes and back. The store is generic over the
 * message type so that it knows nothing about events, envelopes or schema versions.
 */
export interface MessageCodec<M> {
  encode(message: M): Uint8Array;
  /** Never throws: a malformed message becomes an error value, reported and skipped by readers. */
  decode(data: Uint8Array): DecodeResult<M>;
  /** The message's unique id, sent as the JetStream msgID so that a retried publish is de-duplicated. */
  idOf(message: M): string;
}

export interface StoredMessage<M> {
  /** Stream sequence: unique and increasing across every subject of the stream. */
  sequence: number;
  subject: string;
  /** When the server stored it (server clock: for audits, never for decisions). */
  time: Date;
  message: M;
}

export interface MalformedMessage {
  sequence: number;
  subject: string;
  error: DecodeError;
  raw: Uint8Array;
}

export type MalformedHandler = (malformed: MalformedMessage) => void;
