import type { AgentReply, AnyRequest, AgentStatus } from '#contracts';
import { Fenced } from './identity-seats';
import { errorText } from './log';

/** The domain refused a command the agent expected to pass (its code and message). */
export class Rejected extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** A request naming an identity this agent does not serve. */
export class UnknownIdentity extends Error {}

export const isFenced = (err: unknown): boolean => err instanceof Fenced;

/**
 * The reply to a request that failed: bad input for an identity not served here; "retry later"
 * with `fenced` when this host does not serve the identity (I8: never a success; cld maps it to
 * -EREMOTEIO); otherwise "retry later" in the op's own vocabulary (the store failed it).
 */
export function failureReply(op: AnyRequest['op'], err: unknown): AgentReply {
  if (err instanceof UnknownIdentity) return { status: 'ERR_BAD_REQUEST', error: err.message };
  if (isFenced(err)) return { status: 'NFS4ERR_DELAY', error: errorText(err), fenced: true };
  return { status: failureStatus(op), error: errorText(err) };
}

/** What an operation answers when the store failed it: "retry later" in its own vocabulary. */
function failureStatus(op: AnyRequest['op']): AgentStatus {
  return op === 'reclaim' || op === 'may_grant' ? 'NFS4ERR_GRACE' : 'NFS4ERR_DELAY';
}
