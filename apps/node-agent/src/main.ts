/**
 * gk-node-agent: one beside each NFS server. Answers nfsd (cld pipe or socket, gk-cltrack) and
 * userspace servers (JSON socket) from a live view of the cluster's grace state, appending every
 * decision to the cluster's event stream. See docs/node-agent.md.
 */
import { NatsAuthError } from '#cluster-store';
import { StreamMissing, TruncatedHistory } from '#event-store';
import { ConfigError, createServiceLogger, handleStopSignals, installProcessGuards, logSettings } from '#service-kit/plain';
import { type AgentConfig, parseAgentArgs, usage } from './config';
import { AgentCore } from './core/agent-core';
import { type AgentLog, agentLog, errorText } from './core/log';
import { CldDispatcher } from './transports/cld-dispatch';
import { CldPipe } from './transports/cld-pipe';
import { listenCldSocket } from './transports/cld-socket';
import { listenJsonSocket } from './transports/json-socket';

async function main(): Promise<void> {
  try {
    logSettings();
  } catch (err) {
    process.stderr.write(`gk-node-agent: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const root = createServiceLogger('node-agent');
  installProcessGuards(root);
  let config: AgentConfig;
  try {
    const parsed = parseAgentArgs(process.argv.slice(2), process.env, { warn: (message) => root.warn(message) });
    if (parsed.help) {
      process.stdout.write(usage());
      return;
    }
    config = parsed.config;
  } catch (err) {
    process.stderr.write(`gk-node-agent: ${err instanceof ConfigError ? err.message : errorText(err)}\n`);
    process.exit(2);
  }
  const logger = root.child({ context: `node-agent ${config.cluster}/${config.node}`, cluster: config.cluster, node: config.node });
  const log = agentLog(logger);
  // Installed before the (possibly long) wait for NATS: a stop then is explained too.
  const stops: Array<() => Promise<unknown>> = [];
  let core: AgentCore | undefined;
  handleStopSignals(logger, async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log.warn(`while stopping: ${errorText(err)}`));
    await core?.stop().catch(() => undefined);
  });
  if (!config.socketAccess.peerCheck) log.warn('DEVELOPMENT MODE: GK_SOCKET_PEER_CHECK=off, the sockets\' peers are not checked (file permissions only)');
  core = await startCore(config, log);
  const dispatcher = new CldDispatcher(core.service, log);
  try {
    if (config.jsonSocket) {
      const json = await listenJsonSocket(config.jsonSocket, core.service, log, { access: config.socketAccess });
      stops.push(() => json.close());
    }
    if (config.cldSocket) {
      const cld = await listenCldSocket(config.cldSocket, dispatcher, log, { access: config.socketAccess });
      stops.push(() => cld.close());
    }
    if (config.cldPipe) {
      const pipe = CldPipe.start(config.cldPipe, dispatcher, log, config.cldPipeMode);
      stops.push(() => pipe.stop());
    }
    let adminUrl = 'off';
    if (config.adminPort !== undefined) {
      // NestJS is loaded only here: with the admin port off the agent starts without it (seconds
      // saved on a small host, tens under emulation: issue 12).
      const [{ bootstrapService, listeningPort }, { AgentAdminModule }] = await Promise.all([import('#service-kit'), import('./admin/admin.module.js')]);
      const app = await bootstrapService(AgentAdminModule.forAgent(core, { admin: config.adminToken, read: config.readToken }), {
        port: config.adminPort,
        title: 'Gracekeeper node-agent',
        description: `Status, health and metrics of the node-agent for node ${config.node} of cluster ${config.cluster}.`,
        quiet: true,
        logger,
      });
      adminUrl = `http://127.0.0.1:${listeningPort(app)}`;
      stops.push(() => app.close());
    }
    // "node-agent <cluster>/<node> ready:" is what launchers and tests wait for.
    log.info(`node-agent ${config.cluster}/${config.node} ready: json=${config.jsonSocket ?? 'off'} cld-socket=${config.cldSocket ?? 'off'} cld-pipe=${config.cldPipe ?? 'off'} admin=${adminUrl}`);
  } catch (err) {
    log.error(`start-up failed: ${errorText(err)}`);
    process.exit(1);
  }
}

/**
 * NATS may come up after the agent: keep trying, loudly, rather than exit. What waiting cannot fix
 * (no stream, a truncated history, unreadable credentials) ends the process with the reason.
 */
async function startCore(config: AgentConfig, log: AgentLog): Promise<AgentCore> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await AgentCore.start({ ...config, log });
    } catch (err) {
      if (err instanceof StreamMissing || err instanceof TruncatedHistory || err instanceof NatsAuthError) throw err;
      const waitMs = Math.min(500 * 2 ** Math.min(attempt, 4), 5000);
      log.error(`cannot open the event store at ${config.natsUrl} (attempt ${attempt}): ${errorText(err)}; retrying in ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

main().catch((err: unknown) => {
  // Logged by the record of the exit (lifecycle.ts) after this one.
  createServiceLogger('node-agent').error({ err }, `gk-node-agent: ${errorText(err)}`);
  process.exit(1);
});
