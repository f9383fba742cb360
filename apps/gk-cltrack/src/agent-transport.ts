import { connect } from 'node:net';

/** One reply line of the node-agent's JSON socket API. */
export interface AgentReply {
  id: unknown;
  status: string;
  [field: string]: unknown;
}

export interface AgentConnection {
  /** Sends one request (an id is added) and resolves with the reply carrying that id. */
  request(body: Record<string, unknown>): Promise<AgentReply>;
  close(): void;
}

/** Opens a connection to the agent at a socket path; rejects if it cannot be reached. */
export type AgentConnector = (socketPath: string) => Promise<AgentConnection>;

/**
 * The JSON-lines Unix socket client. One deadline covers connecting and every request:
 * the kernel waits for this process while holding the client's upcall lock, so a stuck
 * agent must turn into a storage error, not a hang.
 */
export function jsonLinesConnector(timeoutMs: number): AgentConnector {
  return (socketPath) =>
    new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const pending = new Map<number, { resolve: (r: AgentReply) => void; reject: (e: Error) => void }>();
      let nextId = 1;
      let buffered = '';
      let failure: Error | null = null;

      const fail = (e: Error) => {
        failure ??= e;
        for (const p of pending.values()) p.reject(failure);
        pending.clear();
        socket.destroy();
      };
      const timer = setTimeout(() => fail(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();

      socket.setEncoding('utf8');
      socket.on('error', (e) => {
        fail(e);
        reject(e);
      });
      socket.on('close', () => fail(new Error(`${socketPath} closed the connection`)));
      socket.on('data', (text: string) => {
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() === '') continue;
          const reply = parseReply(line);
          if (!reply) return fail(new Error(`malformed reply from agent: ${line.slice(0, 200)}`));
          const waiter = typeof reply.id === 'number' ? pending.get(reply.id) : undefined;
          if (!waiter) continue; // not ours (e.g. an error about a line we never sent)
          pending.delete(reply.id as number);
          waiter.resolve(reply);
        }
      });
      socket.on('connect', () =>
        resolve({
          request(body) {
            if (failure) return Promise.reject(failure);
            const id = nextId++;
            return new Promise<AgentReply>((res, rej) => {
              pending.set(id, { resolve: res, reject: rej });
              socket.write(`${JSON.stringify({ id, ...body })}\n`);
            });
          },
          close() {
            clearTimeout(timer);
            socket.destroy();
          },
        }),
      );
    });
}

function parseReply(line: string): AgentReply | null {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === 'object' && v !== null && typeof (v as AgentReply).status === 'string') return v as AgentReply;
  } catch {
    // fall through: not JSON
  }
  return null;
}
