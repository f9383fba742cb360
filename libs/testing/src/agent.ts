import type { AgentClientOptions } from '#agent-client';

/** How tests talk to an agent: one dial (it is already listening), and replies may take a while under load. */
export const AGENT_CLIENT_OPTIONS: AgentClientOptions = { connectTimeoutMs: 0, defaultTimeoutMs: 60_000 };
