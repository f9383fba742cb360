import { z } from 'zod';
import { compileCheck } from './compiled-check';
import { EVENT_TYPES, GkEvent, GkEventSchema } from './events';
import { err, ok, Result } from './result';

/**
 * One decision = one JetStream message holding all its events (nats-server 2.9 has no atomic
 * batch publish, so this is how a decision stays all-or-nothing). Its id is the msgID.
 */
export interface DecisionMessage {
  kind: 'gk.decision';
  v: 1;
  id: string;
  events: GkEvent[];
}

export type DecodeErrorKind = 'not-json' | 'bad-envelope' | 'unknown-event-type' | 'invalid-event';
export interface DecodeError {
  kind: DecodeErrorKind;
  message: string;
}

const EnvelopeShape = z.object({
  kind: z.literal('gk.decision'),
  v: z.literal(1),
  id: z.string().min(1).max(200),
  events: z.array(z.unknown()).min(1),
}).strict();

/** The envelope and every event at once: compiled from the schemas above (see compiled-check.ts). */
const certainlyValidEnvelope = compileCheck(EnvelopeShape);
const certainlyValidEvent = compileCheck(GkEventSchema);

function certainlyValid(raw: unknown): raw is DecisionMessage {
  if (!certainlyValidEnvelope(raw)) return false;
  const events = (raw as { events: unknown[] }).events;
  for (let i = 0; i < events.length; i++) if (!certainlyValidEvent(events[i])) return false;
  return true;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeDecision(message: DecisionMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/** Never throws: a malformed message is reported as a typed error for the caller to log and skip. */
export function decodeDecision(data: Uint8Array): Result<DecisionMessage, DecodeError> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (e) {
    return err({ kind: 'not-json', message: `not UTF-8 JSON: ${(e as Error).message}` });
  }
  // The common case: what zod would return is the parsed JSON itself. Otherwise zod decides and explains.
  if (certainlyValid(raw)) return ok(raw);
  const shape = EnvelopeShape.safeParse(raw);
  if (!shape.success) return err({ kind: 'bad-envelope', message: z.prettifyError(shape.error) });
  const events: GkEvent[] = [];
  for (const [i, candidate] of shape.data.events.entries()) {
    const decoded = decodeEvent(candidate);
    if (!decoded.ok) return err({ ...decoded.error, message: `event ${i}: ${decoded.error.message}` });
    events.push(decoded.value);
  }
  return ok({ kind: 'gk.decision', v: 1, id: shape.data.id, events });
}

export function decodeEvent(candidate: unknown): Result<GkEvent, DecodeError> {
  const type = (candidate as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !(EVENT_TYPES as string[]).includes(type)) {
    return err({ kind: 'unknown-event-type', message: `unknown event type ${preview(type)}` });
  }
  const parsed = GkEventSchema.safeParse(candidate);
  if (!parsed.success) return err({ kind: 'invalid-event', message: `${type}: ${z.prettifyError(parsed.error)}` });
  return ok(parsed.data as GkEvent);
}

/**
 * A bounded, printable quote of an untrusted value for an error message: anyone who can publish on
 * the stream chooses it, and the message is logged and stored with the malformed record.
 */
function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 80 ? text : `${text.slice(0, 80)}... (${text.length} characters)`;
}

/** Validation on write: a service must never publish what it would refuse to read. */
export function validateDecision(message: DecisionMessage): Result<DecisionMessage, DecodeError> {
  return decodeDecision(encodeDecision(message));
}

export const decisionCodec = {
  encode: encodeDecision,
  decode: decodeDecision,
  idOf: (m: DecisionMessage) => m.id,
};
