import type { AgentApi } from '#agent-client';
import type { SimCluster } from './cluster';
import { sleep } from './clock';
import { SimNfsServer } from './nfs-server';

/** An agent's API with every request naming the identity it is for (the JSON API's `identity`). */
export function forIdentity(api: AgentApi, identity: string): AgentApi {
  return {
    request: (op, fields, options) => api.request(op, { ...fields, identity }, options),
    // The host's agent client is shared with its own server: closing one identity's view of it closes nothing.
    close: async () => undefined,
  };
}

/** Per simulated cluster and identity, the last move being appended. */
const movesInFlight = new WeakMap<SimCluster, Map<string, Promise<unknown>>>();

export interface Failover {
  /** The identity's server on its new host, started (its `grace_start` answered). */
  server: SimNfsServer;
  /** The server object that served the identity before: crashed, or still up when `oldHostAlive`. */
  previous: SimNfsServer;
}

/**
 * What a cluster manager does on a failover or failback, in its order: `gracectl move identity
 * host` (the log fences the old placement), then the identity's NFS server starts on the new host
 * (it took over the service address: `grace_start` naming the identity through that host's
 * agent), and the identity's clients, whose address now leads there, find it.
 *
 * The old host's server is crashed first unless `oldHostAlive` (a partitioned host: then the
 * cluster filesystem's lock manager fences it, which orphans its locks, while the server itself
 * runs on, unaware of the move). Its incarnation carries over, as for a restart in place.
 */
export async function moveIdentity(sim: SimCluster, identity: string, host: string, options: { oldHostAlive?: boolean; holdGraceDone?: boolean } = {}): Promise<Failover> {
  // Everything up to the move happens at once, so that no other fault sees half a failover.
  const { server, previous } = replaceServer(sim, identity, host, options);
  sim.obs.fault(`move ${identity} to host ${host}`);
  // Moves of one identity are appended in the order they were made, as one cluster manager would.
  const queue = movesInFlight.get(sim) ?? movesInFlight.set(sim, new Map()).get(sim)!;
  const appended = (queue.get(identity) ?? Promise.resolve()).then(() => sim.adminCommand({ type: 'move', identity, host }));
  queue.set(identity, appended.catch(() => undefined));
  const moved = await appended;
  if (!moved.ok) {
    // Refused (e.g. the host left meanwhile): the identity stays where the log has it, with its old server object.
    if (sim.servers.get(identity) === server) {
      sim.servers.set(identity, previous);
      for (const client of sim.clients) if (client.server === server) client.server = previous;
      // The operator removed the identity while this move waited its turn (seed 900541): the
      // restored server object must say so too, or the schedule's settle removes it a second time.
      if (server.removed && !previous.removed) previous.markRemoved();
    }
    throw new Error(`move ${identity} ${host}: ${moved.rejection.code}: ${moved.rejection.message}`);
  }
  // A later move of the same identity superseded this one (it crashed this server): nothing to start.
  if (sim.servers.get(identity) !== server) return { server, previous };
  await startServing(sim, server, identity, host);
  return { server, previous };
}

/**
 * The identity's server is replaced by one on `host`, and its clients' address leads there. The
 * old one is crashed first unless `oldHostAlive` (then its locks are orphaned by the DLM and its
 * clients lose contact). Its incarnation carries over, as for a restart in place.
 */
function replaceServer(sim: SimCluster, identity: string, host: string, options: { oldHostAlive?: boolean; holdGraceDone?: boolean }): Failover {
  const previous = sim.server(identity);
  if (!options.oldHostAlive) sim.crashServer(identity);
  else sim.dlm.orphanServer(identity);
  const server = new SimNfsServer(identity, () => forIdentity(sim.agent(host).api(), identity), sim.dlm, sim.obs, {
    ...previous.options,
    host,
  });
  server.incarnation = previous.incarnation;
  server.holdGraceDone = options.holdGraceDone ?? false;
  sim.servers.set(identity, server);
  for (const client of sim.clients) {
    if (client.server !== previous) continue;
    client.server = server;
    if (options.oldHostAlive) client.loseContact();
  }
  return { server, previous };
}

/** Starts the identity's server on its new host (unless something else started it meanwhile) and waits for its start. */
async function startServing(sim: SimCluster, server: SimNfsServer, identity: string, host: string): Promise<void> {
  // Something else (a random schedule's start fault) may have started it meanwhile: then wait for that start.
  if (server.state === 'down') {
    sim.obs.fault(`start ${identity} on host ${host}`);
    await server.start();
  }
  while (server.state === 'starting') await sleep(10);
}

/**
 * What a cluster manager does once the coordinator moved a silent host's identity (liveness policy
 * `move`): the log already places it on `host`; the identity's server starts there and its clients
 * find it.
 */
export async function takeOverMovedIdentity(sim: SimCluster, identity: string, host: string): Promise<Failover> {
  const moved = (await sim.state()).placements.get(identity);
  if (moved?.host !== host) throw new Error(`identity ${identity} is not placed on host ${host} in the log (${JSON.stringify(moved)})`);
  const failover = replaceServer(sim, identity, host, {});
  sim.obs.fault(`take over ${identity} on host ${host} (moved by the coordinator)`);
  await startServing(sim, failover.server, identity, host);
  return failover;
}
