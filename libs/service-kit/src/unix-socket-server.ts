import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

/**
 * Listens on a Unix socket path: creates its directory, and replaces a stale socket left by a
 * process that died (kill -9 leaves the file behind), but refuses to steal a live one.
 */
export async function listenUnix(server: Server, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  if (await isStaleSocket(path)) unlinkSync(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function isStaleSocket(path: string): Promise<boolean> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return false; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by another process (another agent running?)`);
  return true;
}

/** Closes a server and every connection it still has. */
export async function closeServer(server: Server, sockets: Iterable<{ destroy(): void }>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of sockets) s.destroy();
  await closed;
}

/**
 * A Unix stream socket server that knows its connections, so that closing it ends them too. What
 * a connection carries (JSON lines, cld frames) is the `serve` callback's business.
 */
export class UnixSocketServer {
  private readonly sockets = new Set<Socket>();
  /** Connections accepted since start. */
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, serve: (socket: Socket) => void): Promise<UnixSocketServer> {
    let self!: UnixSocketServer;
    const server = createServer((socket) => {
      self.sockets.add(socket);
      self.connections++;
      socket.on('close', () => self.sockets.delete(socket));
      serve(socket);
    });
    self = new UnixSocketServer(server, path);
    await listenUnix(server, path);
    return self;
  }

  close(): Promise<void> {
    return closeServer(this.server, this.sockets);
  }
}
