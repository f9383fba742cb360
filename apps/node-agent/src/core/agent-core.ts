import type { GkEvent, StreamNames } from '#contracts';
import { type ClusterState, inGrace } from '#domain';
import { openGraceStore, ViewSupervisor, type OpenedStore } from '#cluster-store';
import { HeartbeatPublisher } from '../heartbeat';
import { AgentService } from './agent-service';
import { EndGraceWriter } from './end-grace';
import { AgentLog, errorText } from './log';

export interface AgentCoreOptions {
  cluster: string;
  /** This host's name (the agent's node id). */
  node: string;
  /** The server identities served here, primary first (default: [node]); see AgentServiceOptions. */
  identities?: readonly string[];
  natsUrl: string;
  names: StreamNames;
  /** Where to write `Y` when the cluster's grace ends; undefined: nowhere. */
  endGraceFile?: string;
  requestTimeoutMs: number;
  log: AgentLog;
  /** May this node make itself a member (see AgentServiceOptions.autoJoin)? Default false. */
  autoJoin?: boolean;
  /** An already opened store (tests, several agents in one process); else one is opened. */
  store?: OpenedStore;
  /** Heartbeat interval for dead-host detection (apps/node-agent/src/heartbeat.ts); undefined or 0: none. */
  heartbeatMs?: number;
}

/**
 * The agent without its interfaces: one store connection, one live view of the cluster that
 * tracks only this node's records, one group committer, the service, and the end-of-grace
 * signal to nfsd. Framework-free, so that tests and benchmarks run it in-process.
 */
export class AgentCore {
  private constructor(
    readonly service: AgentService,
    readonly views: ViewSupervisor,
    readonly opened: OpenedStore,
    readonly endGrace: EndGraceWriter,
    private readonly ownsStore: boolean,
    private readonly heartbeat?: HeartbeatPublisher,
  ) {}

  static async start(o: AgentCoreOptions): Promise<AgentCore> {
    const opened = o.store ?? (await openGraceStore({ natsUrl: o.natsUrl, names: o.names, name: `node-agent:${o.cluster}:${o.node}`, onSnapshotProblem: (message) => o.log.warn(message) }));
    if (!o.store) for (const note of opened.startupNotes) o.log[note.level](note.text);
    const endGrace = new EndGraceWriter(o.endGraceFile, o.log);
    let service: AgentService | undefined;
    let latest: ClusterState | undefined;
    // A late retry of Y must not end the grace period of a restarted nfsd (a new grace started).
    const stillOver = () => latest === undefined || !inGrace(latest);
    try {
      const applied = (events: readonly GkEvent[], state: ClusterState, previous?: ClusterState) => {
        service?.applied(events, state);
        latest = state;
        const ended = events.some((e) => e.type === 'GraceEnded')
          // A reloaded view may have skipped the end: compare the grace periods instead.
          || (previous !== undefined && previous.recoveryEpoch !== 0 && state.recoveryEpoch !== previous.recoveryEpoch);
        if (ended) void endGrace.signal(stillOver);
      };
      const views = await ViewSupervisor.open({
        store: opened.store,
        names: o.names,
        cluster: o.cluster,
        trackedNodes: o.identities?.length ? [...o.identities] : [o.node],
        snapshots: opened.snapshots,
        catchUpTimeoutMs: o.requestTimeoutMs,
        watchdogMs: 1000,
        onMalformed: (m) => o.log.warn(`skipped malformed message seq=${m.sequence}: ${m.error.kind}: ${m.error.message}`),
        onApplied: (events, state) => applied(events, state),
        // A replacement view: what the agent knew may have moved without an event it saw.
        onInstalled: (view, previous) => {
          if (previous) applied([], view.state, previous.state);
        },
        onProblem: (message, severity) => (severity === 'error' ? o.log.error(message) : o.log.warn(message)),
      });
      service = new AgentService({ cluster: o.cluster, node: o.node, identities: o.identities, views, requestTimeoutMs: o.requestTimeoutMs, log: o.log, autoJoin: o.autoJoin });
      const { view } = views;
      const from = view.loadedFromSnapshot ? `from snapshot at ${view.loadedFromSnapshot}` : 'full replay';
      o.log.info(`cluster ${o.cluster} node ${o.node}: view at sequence ${view.version} (${from}), epoch ${view.state.epoch}, recovery epoch ${view.state.recoveryEpoch}`);
      const identities = service.identities;
      const heartbeat = o.heartbeatMs
        ? new HeartbeatPublisher({ nc: opened.nc, names: o.names, cluster: o.cluster, host: o.node, identities: () => identities, intervalMs: o.heartbeatMs, log: o.log })
        : undefined;
      return new AgentCore(service, views, opened, endGrace, !o.store, heartbeat);
    } catch (err) {
      if (!o.store) await opened.close();
      throw err;
    }
  }

  /** The live view in use now. */
  get view() {
    return this.views.view;
  }

  get committer() {
    return this.views.committer;
  }

  async stop(): Promise<void> {
    this.heartbeat?.stop();
    await this.views.close();
    if (this.ownsStore) await this.opened.close();
  }
}
