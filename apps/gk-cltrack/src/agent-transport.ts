import { AgentClient } from '#agent-client';
import type { AgentReply } from '#contracts';

export interface AgentConnection {
  /** Sends one request (an id is added) and resolves with the reply carrying that id. */
  request(body: Record<string, unknown>): Promise<AgentReply>;
  close(): void;
}

/** Opens a connection to the agent at a socket path; rejects if it cannot be reached. */
export type AgentConnector = (socketPath: string) => Promise<AgentConnection>;

/**
 * The agent's JSON-lines client with one deadline for the whole run: the kernel waits for this
 * process while holding the client's upcall lock, so a stuck agent must turn into a storage
 * error, not a hang. One dial attempt (no agent is an error at once); a reply it cannot read
 * fails the run rather than being guessed at.
 */
export function jsonLinesConnector(timeoutMs: number): AgentConnector {
  return async (socketPath) => {
    const deadline = Date.now() + timeoutMs;
    const client = await AgentClient.connect(socketPath, { connectTimeoutMs: 0, unreadableReplies: 'fail' });
    return {
      request: (body) => client.send(body, { timeoutMs: Math.max(1, deadline - Date.now()) }),
      close: () => void client.close(),
    };
  };
}
