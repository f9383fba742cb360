import { lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { assertPeerCheckPossible, prepareSocketDirectory, refusePeer, setSocketOwnership, SOCKET_BIND_UMASK, socketAccess, type SocketAccess } from './socket-access';

/**
 * Listens on a Unix socket path: makes its directory safe (socket-access.ts), replaces a stale
 * socket left by a process that died (kill -9 leaves the file behind) but refuses to steal a live
 * one, and creates the socket so that it is never open to more than its owner and group.
 */
export async function listenUnix(server: Server, path: string, access: SocketAccess): Promise<void> {
  assertPeerCheckPossible(access);
  prepareSocketDirectory(dirname(path), access);
  if (await isStaleSocket(path)) unlinkSync(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Node binds a path synchronously inside listen(): the umask applies to that bind only.
    const umask = process.umask(SOCKET_BIND_UMASK);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  setSocketOwnership(path, access);
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

export interface UnixSocketOptions {
  /** Group, modes and allowed peers; default `socketAccess()` (this process's group, root and this user). */
  access?: SocketAccess;
  /** Where a refused connection is reported (a local user tried a socket not meant for them); at most once a second. */
  onRefused?(message: string): void;
}

/**
 * A Unix stream socket server that knows its connections, so that closing it ends them too. Each
 * connection's peer is checked first (SO_PEERCRED); what an admitted connection carries (JSON
 * lines, cld frames) is the `serve` callback's business.
 */
export class UnixSocketServer {
  private readonly sockets = new Set<Socket>();
  /** Connections accepted since start. */
  connections = 0;
  /** Connections refused by the peer check since start. */
  refused = 0;

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, serve: (socket: Socket) => void, options: UnixSocketOptions = {}): Promise<UnixSocketServer> {
    const access = options.access ?? socketAccess();
    // A local user who loops on connect() must not flood the log: one line a second, with a count.
    let lastReport = 0;
    let unreported = 0;
    const report = (message: string) => {
      const now = Date.now();
      if (now - lastReport < 1000) {
        unreported++;
        return;
      }
      options.onRefused?.(unreported ? `${message} (and ${unreported} more refused since the last report)` : message);
      lastReport = now;
      unreported = 0;
    };
    let self!: UnixSocketServer;
    const server = createServer((socket) => {
      const refusal = refusePeer(socket, access);
      if (refusal) {
        self.refused++;
        report(`refused a connection on ${path}: ${refusal}`);
        socket.destroy();
        return;
      }
      self.sockets.add(socket);
      self.connections++;
      socket.on('close', () => self.sockets.delete(socket));
      serve(socket);
    });
    self = new UnixSocketServer(server, path);
    await listenUnix(server, path, access);
    return self;
  }

  close(): Promise<void> {
    return closeServer(this.server, this.sockets);
  }
}
