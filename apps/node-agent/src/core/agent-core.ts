import type { StreamNames } from '#contracts';
import { GroupCommitter, LiveClusterView, openGraceStore, type OpenedStore } from '#cluster-store';
import { AgentService } from './agent-service';
import { EndGraceWriter } from './end-grace';
import { AgentLog, errorText } from './log';

export interface AgentCoreOptions {
  cluster: string;
  node: string;
  natsUrl: string;
  names: StreamNames;
  /** Where to write `Y` when the cluster's grace ends; undefined: nowhere. */
  endGraceFile?: string;
  requestTimeoutMs: number;
  log: AgentLog;
  /** An already opened store (tests, several agents in one process); else one is opened. */
  store?: OpenedStore;
}

/**
 * The agent without its interfaces: one store connection, one live view of the cluster that
 * tracks only this node's records, one group committer, the service, and the end-of-grace
 * signal to nfsd. Framework-free, so that tests and benchmarks run it in-process.
 */
export class AgentCore {
  private constructor(
    readonly service: AgentService,
    readonly view: LiveClusterView,
    readonly committer: GroupCommitter,
    readonly opened: OpenedStore,
    readonly endGrace: EndGraceWriter,
    private readonly ownsStore: boolean,
  ) {}

  static async start(o: AgentCoreOptions): Promise<AgentCore> {
    const opened = o.store ?? (await openGraceStore({ natsUrl: o.natsUrl, names: o.names, name: `node-agent:${o.cluster}:${o.node}` }));
    const endGrace = new EndGraceWriter(o.endGraceFile, o.log);
    let service: AgentService | undefined;
    try {
      const view = await LiveClusterView.open(opened.store, o.names, o.cluster, {
        trackedNodes: [o.node],
        catchUpTimeoutMs: o.requestTimeoutMs,
        onMalformed: (m) => o.log.warn(`skipped malformed message seq=${m.sequence}: ${m.error.kind}: ${m.error.message}`),
        onApplied: (events, state) => {
          service?.applied(events, state);
          if (events.some((e) => e.type === 'GraceEnded')) void endGrace.signal();
        },
      });
      void view.ended?.then((end) => end !== undefined && (end as { reason?: string }).reason !== 'stopped' && o.log.error(`live view of ${o.cluster} stopped: ${JSON.stringify(end, (_, v: unknown) => (v instanceof Error ? errorText(v) : v))}`));
      const committer = new GroupCommitter(view);
      service = new AgentService({ cluster: o.cluster, node: o.node, view, committer, requestTimeoutMs: o.requestTimeoutMs, log: o.log });
      o.log.info(`cluster ${o.cluster} node ${o.node}: view at sequence ${view.version}, epoch ${view.state.epoch}, recovery epoch ${view.state.recoveryEpoch}`);
      return new AgentCore(service, view, committer, opened, endGrace, !o.store);
    } catch (err) {
      if (!o.store) await opened.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.view.close();
    if (this.ownsStore) await this.opened.close();
  }
}
