import type { ClientId, NodeId } from '#contracts';
import type { AuditRow, MalformedRow, OutboxItem } from './projection-model';

/** What changed since the last write: the rows to rewrite, and the rows to append. */
export class ChangeSet {
  /** Whether to collect the per-client rows to rewrite (a bulk rebuild writes them all at the end). */
  readonly trackRows: boolean;
  /** Keep only the audit rows only the model can render (a reader thread renders the others). */
  readonly modelAuditOnly: boolean;
  messages = 0;
  events = 0;
  malformed = 0;
  lastSequence = 0;
  readonly audit: AuditRow[] = [];
  readonly malformedRows: MalformedRow[] = [];
  readonly clusters = new Set<string>();
  /** cluster → node → clients whose row must be rewritten. */
  readonly clients = new Map<string, Map<NodeId, Set<ClientId>>>();
  /** cluster → recovery epochs whose grace-period row must be rewritten. */
  readonly periods = new Map<string, Set<number>>();
  readonly outboxAdded = new Map<string, OutboxItem>();
  readonly outboxRemoved = new Set<string>();

  constructor(options: { trackRows?: boolean; modelAuditOnly?: boolean } = {}) {
    this.trackRows = options.trackRows ?? true;
    this.modelAuditOnly = options.modelAuditOnly ?? false;
  }

  get empty(): boolean {
    return this.lastSequence === 0;
  }

  touchClient(cluster: string, node: NodeId, client: ClientId): void {
    if (!this.trackRows) return;
    let byNode = this.clients.get(cluster);
    if (!byNode) this.clients.set(cluster, (byNode = new Map()));
    let set = byNode.get(node);
    if (!set) byNode.set(node, (set = new Set()));
    set.add(client);
  }

  touchPeriod(cluster: string, recoveryEpoch: number): void {
    let set = this.periods.get(cluster);
    if (!set) this.periods.set(cluster, (set = new Set()));
    set.add(recoveryEpoch);
  }
}
