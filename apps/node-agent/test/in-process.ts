/**
 * Test helper, not a test: a node-agent in the test's own process, on the real NATS of the
 * jest run, with its JSON and cld sockets in a temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamNames } from '#contracts';
import type { OpenedStore } from '#cluster-store';
import { AgentCore } from '../src/core/agent-core';
import { type AgentLog, silentLog } from '../src/core/log';
import { CldDispatcher } from '../src/transports/cld-dispatch';
import { listenCldSocket } from '../src/transports/cld-socket';
import { listenJsonSocket } from '../src/transports/json-socket';

export interface TestAgent {
  core: AgentCore;
  dir: string;
  jsonPath: string;
  cldPath: string;
  endGraceFile: string;
  stop(): Promise<void>;
}

export async function startTestAgent(o: {
  natsUrl: string;
  names: StreamNames;
  cluster: string;
  node: string;
  identities?: string[];
  store?: OpenedStore;
  requestTimeoutMs?: number;
  log?: AgentLog;
  /** Default true: most tests let the first agent create its cluster. */
  autoJoin?: boolean;
  /** Heartbeat interval; default: none. */
  heartbeatMs?: number;
}): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), `gk-agent-${o.node}-`));
  const endGraceFile = join(dir, 'v4_end_grace');
  writeFileSync(endGraceFile, '');
  const log = o.log ?? silentLog;
  const core = await AgentCore.start({
    cluster: o.cluster,
    node: o.node,
    identities: o.identities,
    natsUrl: o.natsUrl,
    names: o.names,
    endGraceFile,
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    log,
    store: o.store,
    autoJoin: o.autoJoin ?? true,
    heartbeatMs: o.heartbeatMs,
  });
  const jsonPath = join(dir, 'agent.sock');
  const cldPath = join(dir, 'cld.sock');
  const json = await listenJsonSocket(jsonPath, core.service, log);
  const cld = await listenCldSocket(cldPath, new CldDispatcher(core.service, log), log);
  return {
    core,
    dir,
    jsonPath,
    cldPath,
    endGraceFile,
    async stop() {
      await json.close();
      await cld.close();
      await core.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
