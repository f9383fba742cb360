import { join } from 'node:path';
import type { StreamNames } from '#contracts';
import { openGraceStore, OpenedStore } from '#cluster-store';
import { ClusterCoordinator } from '../../apps/grace-coordinator/src/cluster-coordinator';
import { LivenessWatcher } from '../../apps/grace-coordinator/src/liveness/liveness-watcher';
import { Child, spawnChild } from '../../libs/infra/src/child';

/** Who ends grace periods at their deadline: the grace-coordinator, as a process or in-process. */
export interface CoordinatorHandle {
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

export const GRACE_COORDINATOR_MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'grace-coordinator', 'src', 'main.js');

/** `node dist/apps/grace-coordinator/src/main.js` serving one cluster (REST admin on a free port). */
export class CoordinatorProcess implements CoordinatorHandle {
  private child?: Child;
  private last = '';

  constructor(private readonly spec: { natsUrl: string; names: StreamNames; clusters: string[] }) {}

  static async create(spec: { natsUrl: string; names: StreamNames; clusters: string[] }): Promise<CoordinatorProcess> {
    const c = new CoordinatorProcess(spec);
    await c.start();
    return c;
  }

  async start(): Promise<void> {
    this.child = spawnChild(process.execPath, [GRACE_COORDINATOR_MAIN], {
      env: {
        ...process.env,
        NATS_URL: this.spec.natsUrl,
        GK_PREFIX: this.spec.names.prefix,
        GK_CLUSTERS: this.spec.clusters.join(','),
        GK_ADMIN_PORT: '0',
        GK_ADMIN_HOST: '127.0.0.1',
        GK_REPLICA: `sim-${process.pid}`,
        GK_QUIET: '1',
      },
    });
    await this.child.waitForLine(/listening on port \d+/, 30_000, 'grace-coordinator');
  }

  async kill(): Promise<void> {
    if (!this.child?.isRunning()) return;
    this.child.process.kill('SIGKILL');
    await this.child.exited;
    this.last = this.child.output();
  }

  output(): string {
    return this.child?.output() ?? this.last;
  }

  async stop(): Promise<void> {
    await this.child?.terminate(3000);
  }
}

/** The coordinator's per-cluster core (`ClusterCoordinator`: live view + deadline timer, and its liveness watcher) in this process. */
export class InProcessCoordinator implements CoordinatorHandle {
  private opened?: OpenedStore;
  private core?: ClusterCoordinator;
  private watcher?: LivenessWatcher;

  constructor(private readonly spec: { natsUrl: string; names: StreamNames; cluster: string }) {}

  static async create(spec: { natsUrl: string; names: StreamNames; cluster: string }): Promise<InProcessCoordinator> {
    const c = new InProcessCoordinator(spec);
    await c.start();
    return c;
  }

  async start(): Promise<void> {
    this.opened = await openGraceStore({ natsUrl: this.spec.natsUrl, names: this.spec.names, name: 'sim-coordinator', provision: false });
    this.core = await ClusterCoordinator.open(this.opened.store, this.spec.names, this.spec.cluster, { replica: `sim-${process.pid}` });
    this.watcher = new LivenessWatcher(this.opened.nc, this.spec.names, this.core).start();
  }

  async kill(): Promise<void> {
    const core = this.core;
    const opened = this.opened;
    this.watcher?.close();
    this.core = undefined;
    this.opened = undefined;
    await core?.close().catch(() => undefined);
    await opened?.nc.close().catch(() => undefined);
  }

  output(): string {
    return '';
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
