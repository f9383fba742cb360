import { ownerShown, subjects, type DecisionMessage, type GkEvent, type StreamNames } from '#contracts';
import type { JetStreamEventStore, MalformedMessage, StoredMessage } from '#event-store';
import { type Sql } from './control';
import { CONTEXT_EVENT_TYPES, CONTEXT_TYPES_SQL, quoteIdent } from './ddl';
import { endReasonText } from './explain';
import { applyMalformed, applyMessage, ChangeSet, emptyModel, referencesOf, type AuditRow } from './model';

/** What an audit is about: one client, one node, or one epoch of a cluster. */
export type AuditFocus = { cluster: string } & ({ client: string } | { node: string } | { epoch: number });

/** The part of an audit row the timeline needs, from PostgreSQL or straight from the events. */
export interface AuditSource {
  sequence: number;
  idx: number;
  event: GkEvent;
  detail?: unknown;
}

export interface TimelineEntry {
  sequence: number;
  idx: number;
  time: string;
  type: GkEvent['type'];
  node?: string;
  actor: string;
  causation?: string;
  id: string;
  /** What happened, in words, seen from the focus (a client's own part of a batch). */
  text: string;
  /** Earlier entries of this timeline that explain this one (e.g. the grace end behind a refusal). */
  see?: number[];
}

/** Event types that explain what happens to every client of a node, or of the whole cluster. */
const CONTEXT_TYPES = new Set<GkEvent['type']>(CONTEXT_EVENT_TYPES);

/**
 * Whether an event belongs in the timeline. For a client: the events that name it, and the node
 * and cluster events that change what its records mean (restarts, grace ends, enforcement, grants)
 * on the nodes where it has records. The SQL fetch selects a superset; this decides.
 */
export function inFocus(focus: AuditFocus, e: GkEvent, clientNodes?: ReadonlySet<string>): boolean {
  if ('client' in focus) {
    if (referencesOf(e).clients?.includes(focus.client)) return true;
    if (!CONTEXT_TYPES.has(e.type)) return false;
    return isClusterWide(e) || nodesOf(e).some((n) => clientNodes?.has(n));
  }
  if ('node' in focus) return isClusterWide(e) || nodesOf(e).includes(focus.node);
  return e.epoch === focus.epoch || ('recoveryEpoch' in e && e.recoveryEpoch === focus.epoch);
}

function isClusterWide(e: GkEvent): boolean {
  return e.type === 'GraceEnded' || e.type === 'FirstNonReclaimGrant' || e.type === 'NodeEnforcementLifted' || e.type === 'ClusterConfigured';
}

function nodesOf(e: GkEvent): string[] {
  const nodes = referencesOf(e).nodes ?? [];
  return 'node' in e ? [e.node, ...nodes] : nodes;
}

/** Builds the causal timeline, in log order, from the selected rows. */
export function buildTimeline(rows: AuditSource[], focus: AuditFocus): TimelineEntry[] {
  const sorted = [...rows].sort((a, b) => a.sequence - b.sequence || a.idx - b.idx);
  const clientNodes = new Set<string>();
  // A client's timeline starts with the first event that names it: what came before is not its story.
  let from = 0;
  if ('client' in focus) {
    from = Infinity;
    for (const r of sorted) {
      if (!referencesOf(r.event).clients?.includes(focus.client)) continue;
      from = Math.min(from, r.sequence);
      if ('node' in r.event) clientNodes.add(r.event.node);
    }
  }
  let entries: TimelineEntry[] = [];
  for (const r of sorted) {
    if (r.sequence < from || !inFocus(focus, r.event, clientNodes)) continue;
    const e = r.event;
    const entry: TimelineEntry = {
      sequence: r.sequence, idx: r.idx, time: e.time, type: e.type, actor: e.actor, id: e.id,
      text: describe(e, r.detail, 'client' in focus ? focus.client : undefined),
    };
    if ('node' in e) entry.node = e.node;
    if (e.causation !== undefined) entry.causation = e.causation;
    entries.push(entry);
  }
  entries = besideTheirCause(entries);
  if ('client' in focus) {
    entries.forEach((entry, i) => {
      if (entry.type !== 'ReclaimRejected') return;
      const event = sorted.find((r) => r.sequence === entry.sequence && r.idx === entry.idx)!.event;
      const see = explainedBy(entries.slice(0, i), event, focus.client);
      if (see.length) entry.see = see;
    });
  }
  return entries;
}

/**
 * Causal order: the registry publishes a ClientRecordsInvalidated after the GraceEnded that
 * caused it, possibly after later events; it is shown right after its cause (its #sequence
 * still says where it is in the log).
 */
function besideTheirCause(entries: TimelineEntry[]): TimelineEntry[] {
  const causes = new Set(entries.filter((t) => t.type === 'GraceEnded').map((t) => t.id));
  const moved = entries.filter((t) => t.type === 'ClientRecordsInvalidated' && t.causation !== undefined && causes.has(t.causation));
  if (moved.length === 0) return entries;
  const out: TimelineEntry[] = [];
  for (const t of entries) {
    if (moved.includes(t)) continue;
    out.push(t);
    if (t.type === 'GraceEnded') out.push(...moved.filter((m) => m.causation === t.id));
  }
  return out;
}

/** For a refusal of the focus client: the earlier entries that caused it. */
function explainedBy(earlier: TimelineEntry[], e: GkEvent, client: string): number[] {
  if (e.type !== 'ReclaimRejected') return [];
  const last = (pick: (t: TimelineEntry) => boolean) => {
    for (let i = earlier.length - 1; i >= 0; i--) if (pick(earlier[i]!)) return earlier[i];
    return undefined;
  };
  const refs = new Set<number>();
  for (const r of e.rejections.filter((x) => x.client === client)) {
    let found: TimelineEntry | undefined;
    switch (r.status) {
      case 'NFS4ERR_NO_GRACE':
        found = last((t) => t.type === 'GraceEnded' || t.type === 'FirstNonReclaimGrant' || t.type === 'GraceStarted'
          || (t.node === e.node && (t.type === 'ReclaimCompleted' || t.type === 'NeedLifted' || t.type === 'NodeJoinedGrace')));
        // A grace period in force since then means the refusal is the node's own (completed, NEED lifted).
        if (found?.type === 'GraceStarted' || found?.type === 'NodeJoinedGrace') found = undefined;
        break;
      case 'NFS4ERR_RECLAIM_BAD': {
        // What dropped the client's record on this node; failing that, the restart it reclaims after.
        const dropped = last((t) => t.node === e.node && (t.type === 'ClientRecordsInvalidated' || t.type === 'ClientRemoved'));
        const cause = dropped?.type === 'ClientRecordsInvalidated' ? earlier.find((t) => t.id === dropped.causation) : undefined;
        if (cause) refs.add(cause.sequence);
        found = dropped ?? last((t) => t.type === 'GraceStarted' || (t.node === e.node && t.type === 'NodeJoinedGrace'));
        break;
      }
      case 'NFS4ERR_COMPLETE_ALREADY':
        found = last((t) => t.type === 'ReclaimCompleted' && t.node === e.node);
        break;
      default:
        found = last((t) => t.type === 'NodeEnforcementLifted');
    }
    if (found) refs.add(found.sequence);
  }
  return [...refs].sort((a, b) => a - b);
}

const few = (xs: string[], max = 5) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} and ${xs.length - max} more`);

/** One event in an operator's words; `client` narrows batch events to that client's part. */
export function describe(e: GkEvent, detail: unknown, client?: string): string {
  // Owners as text where printable ("Linux NFSv4.2 host1", quoted), hex otherwise (#contracts ownerShown).
  const whoOf = (clients: string[]) => (client && clients.includes(client) ? `client ${ownerShown(client)}` : `${clients.length} client(s): ${few(clients.map(ownerShown))}`);
  switch (e.type) {
    case 'ClusterConfigured':
      return `cluster configured: lease ${e.config.leaseTimeMs / 1000} s, grace ${e.config.graceTimeMs / 1000} s, deadline policy ${e.config.deadlinePolicy}, exit policy ${e.config.exitPolicy}`;
    case 'MemberAdded': return `node ${e.node} joined the cluster (ENFORCING)`;
    case 'MemberRemoved': return `node ${e.node} left the cluster${e.abandoned ? ': its clients that did not reclaim are abandoned' : ''}`;
    case 'NodeEnforcing': return `node ${e.node} enforces the grace period (ENFORCING set)`;
    case 'NodeEnforcementLifted': return `node ${e.node} stopped enforcing (ENFORCING cleared): reclaims get NFS4ERR_GRACE until it enforces again`;
    case 'GraceStarted': return `grace period of epoch ${e.recoveryEpoch} started (epoch now ${e.epoch}): ${e.nodes.join(', ')} restarted; their clients may reclaim against records of epoch ${e.recoveryEpoch}`;
    case 'NodeJoinedGrace': return `node ${e.node} restarted and joined the grace period of epoch ${e.recoveryEpoch}`;
    case 'NeedLifted': return `node ${e.node} finished its recovery (NEED lifted)`;
    case 'GraceEnded': {
      const total = (detail as { total?: number } | undefined)?.total;
      return `grace period of epoch ${e.recoveryEpoch} ended because ${endReasonText(e.reason)}` +
        `${e.abandonedNodes.length ? `; abandoned ${e.abandonedNodes.join(', ')}` : ''}` +
        `${total !== undefined ? `; ${total} record(s) of epoch ${e.recoveryEpoch} not reclaimed are invalid from now on` : ''}; reclaims now get NFS4ERR_NO_GRACE`;
    }
    case 'ClientRecorded': return `${whoOf(e.clients.map((c) => c.client))} recorded on ${e.node} in epoch ${e.epoch}`;
    case 'ClientRemoved': return `${whoOf(e.clients)} removed from ${e.node} (expired or destroyed): record dropped`;
    case 'ReclaimAccepted': return `reclaim by ${whoOf(e.clients)} accepted on ${e.node}${e.host ? ` through host ${e.host}` : ''} (record of epoch ${e.recoveryEpoch}; now recorded in epoch ${e.epoch})`;
    case 'ReclaimCompleted': return `${whoOf(e.clients)} sent RECLAIM_COMPLETE on ${e.node}: a later reclaim gets NFS4ERR_NO_GRACE`;
    case 'ReclaimRejected': {
      const whys = Array.isArray(detail) ? (detail as { client: string; status: string; op: string; why?: string }[]) : e.rejections;
      const shown = client ? whys.filter((r) => r.client === client) : whys;
      return shown.map((r) => `${r.op === 'reclaim' ? 'reclaim' : 'RECLAIM_COMPLETE'} by ${client ? `client ${ownerShown(r.client)}` : ownerShown(r.client)} on ${e.node} refused: ${r.status}${'why' in r && r.why ? ` — ${r.why}` : ''}`).join('; ');
    }
    case 'FirstNonReclaimGrant': return `node ${e.node} granted non-reclaim state: no reclaim is accepted anywhere in epoch ${e.epoch} from now on`;
    case 'IdentityMoved':
      return `identity ${e.node} moved from host ${e.fromHost} to host ${e.toHost} (placement generation ${e.generation}): its clients reclaim through ${e.toHost} only`;
    case 'MemberSilent':
      return `identity ${e.node}: host ${e.host} silent for ${e.silentForMs} ms (deadAfter ${e.deadAfterMs} ms); policy ${e.policy}${e.policyRefused ? ` did nothing: ${e.policyRefused}` : ''}`;
    case 'MemberHeard':
      return `identity ${e.node}: host ${e.host} heard again`;
    case 'ClientRecordsInvalidated':
      return `record(s) of epoch ${e.recoveryEpoch} on ${e.node} invalidated (grace ended: ${e.reason}): ${whoOf(e.clients)}${e.parts > 1 ? ` [part ${e.part + 1}/${e.parts}]` : ''}`;
  }
}

/** The timeline as text, one line per entry. */
export function timelineText(entries: TimelineEntry[]): string {
  if (entries.length === 0) return '(no events)\n';
  return entries.map((t) => `${t.time}  #${t.sequence}${t.idx ? `.${t.idx}` : ''}  ${t.type}  ${t.text}  [by ${t.actor}${t.causation ? `, cause ${t.causation}` : ''}]${t.see ? ` (see #${t.see.join(', #')})` : ''}`).join('\n') + '\n';
}

/** Audit rows from the read model: a superset of the focus, narrowed by buildTimeline. */
export async function auditRowsFromDatabase(sql: Sql, schema: string, focus: AuditFocus, limit = 10_000): Promise<AuditSource[]> {
  const s = quoteIdent(schema);
  const cap = Math.min(Math.max(1, limit), 100_000);
  let rows: { sequence: string; idx: number; event: GkEvent | string; detail: unknown }[];
  if ('client' in focus) {
    const named = await sql<{ sequence: string; idx: number; event: GkEvent | string; detail: unknown }>(
      `SELECT sequence, idx, event, detail FROM ${s}.audit_events WHERE cluster = $1 AND clients @> ARRAY[$2]::text[] ORDER BY sequence DESC, idx DESC LIMIT ${cap}`,
      [focus.cluster, focus.client]);
    const first = named.length ? Math.min(...named.map((r) => Number(r.sequence))) : 0;
    const context = named.length ? await sql<{ sequence: string; idx: number; event: GkEvent | string; detail: unknown }>(
      `SELECT sequence, idx, event, detail FROM ${s}.audit_events WHERE cluster = $1 AND sequence >= $2 AND ${CONTEXT_TYPES_SQL}
       ORDER BY sequence DESC, idx DESC LIMIT ${cap}`, [focus.cluster, first]) : [];
    rows = [...named, ...context];
  } else if ('node' in focus) {
    rows = await sql(`SELECT sequence, idx, event, detail FROM ${s}.audit_events WHERE cluster = $1 AND (node = $2 OR ${CONTEXT_TYPES_SQL})
      ORDER BY sequence DESC, idx DESC LIMIT ${cap}`, [focus.cluster, focus.node]);
  } else {
    // An event's epoch is C once applied; events about recovery epoch R carry epoch R + 1.
    rows = await sql(`SELECT sequence, idx, event, detail FROM ${s}.audit_events WHERE cluster = $1 AND epoch IN ($2, $2 + 1)
      ORDER BY sequence DESC, idx DESC LIMIT ${cap}`, [focus.cluster, focus.epoch]);
  }
  return rows.map((r) => ({
    sequence: Number(r.sequence), idx: r.idx,
    event: typeof r.event === 'string' ? JSON.parse(r.event) as GkEvent : r.event,
    ...(r.detail !== null && r.detail !== undefined ? { detail: r.detail } : {}),
  }));
}

/**
 * Audit rows straight from the events, for when no database is at hand: the cluster's and the
 * registry's subjects read in stream order and applied exactly as the projector applies them,
 * so every detail (why each refusal happened) is the one the registry would have stored.
 */
export async function auditRowsFromEvents(
  store: JetStreamEventStore<DecisionMessage>, names: StreamNames, cluster: string,
  /** Where to start reading (default 1): where a retention-trimmed history now starts. */
  from = 1,
): Promise<{ rows: AuditSource[]; malformed: MalformedMessage[]; sequence: number }> {
  const [own, registry] = await Promise.all([
    store.readStream(subjects.cluster(names, cluster), { from }),
    store.readStream(subjects.registry(names, cluster), { from }),
  ]);
  const items: ({ kind: 'ok'; m: StoredMessage<DecisionMessage> } | { kind: 'bad'; m: MalformedMessage })[] = [
    ...own.messages.map((m) => ({ kind: 'ok' as const, m })), ...registry.messages.map((m) => ({ kind: 'ok' as const, m })),
    ...own.malformed.map((m) => ({ kind: 'bad' as const, m })), ...registry.malformed.map((m) => ({ kind: 'bad' as const, m })),
  ].sort((a, b) => a.m.sequence - b.m.sequence);
  const model = emptyModel();
  const changes = new ChangeSet({ trackRows: false });
  for (const item of items) {
    if (item.kind === 'ok') applyMessage(model, names, item.m, changes);
    else applyMalformed(model, item.m, changes);
  }
  const rows = changes.audit.map((a: AuditRow) => ({ sequence: a.sequence, idx: a.idx, event: a.event, ...(a.detail !== undefined ? { detail: a.detail } : {}) }));
  return { rows, malformed: [...own.malformed, ...registry.malformed], sequence: Math.max(own.version, registry.version) };
}
