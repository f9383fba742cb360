import { createHash } from 'node:crypto';

/**
 * The read model's tables. Each generation of the read model lives in its own PostgreSQL schema
 * (`rm_<name>_g<generation>`), so a replay builds a complete new generation beside the live one
 * and a pointer row swaps it in atomically. A change to these tables is a new READ_MODEL_VERSION:
 * the service rebuilds a generation from the events instead of migrating rows in place (the
 * event log is the source of truth, and a rebuild is exactly the migration path that is tested).
 *
 * Every value comes from the events (no wall clock), so a clean replay and a live projection that
 * crashed and resumed produce identical rows; `checkpoint.updated_at` is the one exception.
 */
export const READ_MODEL_VERSION = 1;

/** Tables and primary keys, without secondary indexes (a bulk rebuild adds those at the end). */
export function tablesDdl(schema: string): string {
  const s = quoteIdent(schema);
  return `
CREATE SCHEMA ${s};

-- The last stream sequence whose effect is in this schema: updated in the same transaction as
-- every read-model change, so a crash or a redelivery neither loses nor double-applies an event.
CREATE TABLE ${s}.checkpoint (
  id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  sequence bigint NOT NULL,
  messages bigint NOT NULL,
  events bigint NOT NULL,
  malformed bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per cluster aggregate: the grace state (SPEC §2) as evolve leaves it.
CREATE TABLE ${s}.clusters (
  cluster text PRIMARY KEY,
  exists boolean NOT NULL,
  epoch integer NOT NULL,
  recovery_epoch integer NOT NULL,
  config jsonb NOT NULL,
  non_reclaim_granted boolean NOT NULL,
  grace_started_at timestamptz,
  grace_last_join_at timestamptz,
  grace_last_reclaim_at timestamptz,
  grace_reclaims_accepted integer,
  last_grace_end_epoch integer,
  last_grace_end_reason text,
  last_grace_end_at timestamptz,
  last_grace_end_abandoned text[],
  events bigint NOT NULL,
  last_sequence bigint NOT NULL
);

-- Members with their flags, and nodes that left but still hold records (member = false).
-- recovering: the node has a recovery set (it restarted in the grace period in force).
CREATE TABLE ${s}.nodes (
  cluster text NOT NULL,
  node text NOT NULL,
  member boolean NOT NULL,
  need boolean NOT NULL,
  enforcing boolean NOT NULL,
  grace_started_at timestamptz,
  recovering boolean NOT NULL,
  PRIMARY KEY (cluster, node)
);

-- The stable client store. A client of a node has at most two records: one of the current epoch
-- C and, while its node recovers, one of the recovery epoch R (what it may reclaim against).
-- valid = it holds either. Rows are never deleted: a dropped record keeps why and when.
CREATE TABLE ${s}.client_records (
  cluster text NOT NULL,
  node text NOT NULL,
  client text NOT NULL,
  valid boolean NOT NULL,
  current_record_epoch integer,
  principal_hash text,
  has_session boolean,
  recovery_record_epoch integer,
  recovery_principal_hash text,
  recovery_has_session boolean,
  completed boolean NOT NULL,
  reclaimed_epoch integer,
  invalidated_at timestamptz,
  invalidated_reason text,
  invalidated_epoch integer,
  invalidated_sequence bigint,
  last_sequence bigint NOT NULL,
  PRIMARY KEY (cluster, node, client)
);

CREATE TABLE ${s}.grace_periods (
  cluster text NOT NULL,
  recovery_epoch integer NOT NULL,
  started_at timestamptz,
  started_sequence bigint,
  nodes text[] NOT NULL,
  ended_at timestamptz,
  ended_sequence bigint,
  reason text,
  abandoned_nodes text[],
  reclaims_accepted integer NOT NULL,
  reclaims_rejected integer NOT NULL,
  completions integer NOT NULL,
  invalidated integer NOT NULL,
  PRIMARY KEY (cluster, recovery_epoch)
);

-- Every event, append-only, with its causation: what audits are answered from. event is json
-- (the text as written, validated), not jsonb: a rebuild writes one per event, and json is
-- the cheaper of the two to store; nothing queries inside it.
-- clients: the clients it names; nodes: nodes it names besides node (started, abandoned);
-- detail: what the registry derived when it applied it (why each rejection happened).
CREATE TABLE ${s}.audit_events (
  sequence bigint NOT NULL,
  idx integer NOT NULL,
  id text NOT NULL,
  message_id text NOT NULL,
  subject text NOT NULL,
  type text NOT NULL,
  cluster text NOT NULL,
  epoch integer NOT NULL,
  time timestamptz NOT NULL,
  actor text NOT NULL,
  causation text,
  node text,
  nodes text[],
  clients text[],
  detail jsonb,
  event json NOT NULL
);

-- Messages that could not be decoded: kept with the reason and the raw bytes, then skipped.
CREATE TABLE ${s}.malformed_events (
  sequence bigint PRIMARY KEY,
  subject text NOT NULL,
  kind text NOT NULL,
  error text NOT NULL,
  raw bytea NOT NULL
);

-- ClientRecordsInvalidated messages derived from a GraceEnded and not yet seen in the stream.
CREATE TABLE ${s}.outbox (
  id text PRIMARY KEY,
  cluster text NOT NULL,
  after_sequence bigint NOT NULL,
  message jsonb NOT NULL
);
`;
}

/**
 * Event types that say what happens to every client of a node or of the cluster (restarts, grace
 * ends, enforcement, grants, membership): the context of a client's or a node's audit.
 */
export const CONTEXT_EVENT_TYPES = [
  'ClusterConfigured', 'MemberAdded', 'MemberRemoved', 'NodeEnforcing', 'NodeEnforcementLifted', 'GraceStarted', 'NodeJoinedGrace',
  'NeedLifted', 'GraceEnded', 'FirstNonReclaimGrant', 'IdentityMoved', 'MemberSilent', 'MemberHeard',
] as const;
export const CONTEXT_TYPES_SQL = `type IN (${CONTEXT_EVENT_TYPES.map((t) => `'${t}'`).join(', ')})`;

/**
 * Secondary indexes, one statement each: built after a rebuild's bulk load (much faster than
 * maintaining them row by row), several at a time. The context index is partial: those events
 * are few, and audits read them all.
 */
export function indexStatements(schema: string): { audit: string[]; records: string[] } {
  const s = quoteIdent(schema);
  return {
    audit: [
      `CREATE INDEX ON ${s}.audit_events USING gin (clients)`,
      `ALTER TABLE ${s}.audit_events ADD PRIMARY KEY (sequence, idx)`,
      `CREATE INDEX ON ${s}.audit_events (cluster, node, sequence)`,
      `CREATE INDEX ON ${s}.audit_events (cluster, epoch, sequence)`,
      `CREATE INDEX ON ${s}.audit_events (cluster, sequence) WHERE ${CONTEXT_TYPES_SQL}`,
    ],
    records: [
      `CREATE INDEX ON ${s}.client_records (cluster, client)`,
      `CREATE INDEX ON ${s}.client_records (cluster, node, valid, client)`,
    ],
  };
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** The read model's name for a stream: one read model per event stream. */
export function readModelName(stream: string): string {
  return stream.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/** The schema of one generation; long names are shortened with a hash to fit 63 bytes. */
export function generationSchema(name: string, generation: number): string {
  const base = name.length <= 40 && /^[a-z0-9_]+$/.test(name) ? name : createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `rm_${base}_g${generation}`;
}
