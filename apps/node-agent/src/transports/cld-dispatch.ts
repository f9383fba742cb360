import {
  type CldRequest,
  CldStatus,
  decodeRequest,
  encodeErrorReply,
  encodeReply,
  GraceStartReplies,
} from '#cld';
import type { AgentService } from '../core/agent-service';
import { AgentLog } from '../core/log';
import type { AgentReply } from '#contracts';

/** Writes one downcall; resolves when the transport can take the next (backpressure). */
export type SendFrame = (frame: Buffer) => Promise<void> | void;

/**
 * The cld upcall protocol (SPEC §4.1) over `AgentService`, for any transport that delivers whole
 * upcalls (the rpc_pipefs pipe or the socket framer). Every upcall that has a header gets a reply
 * echoing its xid and length; bad ones get the error status libs/cld assigns, and serving goes on.
 */
export class CldDispatcher {
  handled = 0;
  rejected = 0;

  constructor(
    private readonly service: AgentService,
    private readonly log: AgentLog,
  ) {}

  async handle(upcall: Buffer, send: SendFrame): Promise<void> {
    const decoded = decodeRequest(upcall);
    if (!decoded.ok) {
      this.rejected++;
      const e = decoded.error;
      this.log.warn(`cld: ${e.message}`);
      if (e.replyable) await send(encodeErrorReply(e));
      return;
    }
    this.handled++;
    const req = decoded.value;
    const status = (reply: AgentReply, onMiss: number = CldStatus.EREMOTEIO) =>
      encodeReply(req, { kind: 'status', status: reply.status === 'OK' ? CldStatus.OK : reply.status === 'NFS4ERR_DELAY' ? CldStatus.EREMOTEIO : onMiss });
    const causation = `cld:${req.xid}`;
    switch (req.cmd) {
      case 'GetVersion':
        return send(encodeReply(req, { kind: 'version' }));
      case 'GraceStart':
        return this.graceStart(req, send, causation);
      case 'Create': {
        const client = req.name.toString('hex');
        // nfsd (cld v2) checks reclaims itself, against GraceStart's list, and upcalls only Create,
        // at the client's RECLAIM_COMPLETE (seen in test/kernel): for a client this node may
        // reclaim now, that Create is its reclaim, and is recorded as one (ReclaimAccepted).
        if (this.service.reclaimable().some((c) => c.client === client)) await this.service.handle({ op: 'reclaim', client }, causation);
        const reply = await this.service.handle({ op: 'create', client, ...principal(req.principalHash) }, causation);
        return send(status(reply));
      }
      case 'Remove':
        return send(status(await this.service.handle({ op: 'remove', client: req.name.toString('hex') }, causation)));
      case 'Check': {
        const reply = await this.service.handle({ op: 'check', client: req.name.toString('hex'), ...principal(req.principalHash) }, causation);
        return send(status(reply, CldStatus.EACCES));
      }
      case 'GraceDone':
        // Answered only once the cluster's grace has ended: nfsd leaves grace no earlier than the cluster.
        return send(status(await this.service.handle({ op: 'grace_done', wait: true }, causation)));
    }
  }

  /** Starts or joins grace for this node, then streams the reclaimable clients and a final 0. */
  private async graceStart(req: CldRequest, send: SendFrame, causation: string): Promise<void> {
    const reply = await this.service.handle({ op: 'grace_start' }, causation);
    const replies = new GraceStartReplies(req);
    if (reply.status !== 'OK') return send(replies.end(CldStatus.EREMOTEIO));
    for (const c of this.service.reclaimable()) {
      await send(replies.client(Buffer.from(c.client, 'hex'), c.principalHash ? Buffer.from(c.principalHash, 'hex') : null));
    }
    return send(replies.end(CldStatus.OK));
  }
}

function principal(hash: Buffer | null): { principalHash?: string } {
  return hash ? { principalHash: hash.toString('hex') } : {};
}
