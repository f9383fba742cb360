import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';

/** Who is at the other end of a Unix socket connection, as the kernel recorded it at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

type Addon = { peerCredentials(fd: number): PeerCredentials };

const ADDON = join('native', 'peercred', 'build', 'Release', 'peercred.node');

/**
 * SO_PEERCRED comes from a tiny N-API addon (native/peercred, built by `npm ci` / `npm run
 * build:native`): Node has no API for it, no maintained npm package does it, and the other way
 * (matching /proc/net/unix inodes against every process's /proc/<pid>/fd) is racy, needs
 * root, and cannot tell which end of a socket pair is the peer. Loaded once, on first use.
 */
let loaded: { addon: Addon } | { error: string } | undefined;

function load(): { addon: Addon } | { error: string } {
  if (loaded) return loaded;
  // From source (libs/service-kit/src), from dist (dist/libs/service-kit/src) and from a test's
  // build below the repository (.tmp/…/dist/…): the nearest directory above that holds it.
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, ADDON);
    if (existsSync(file)) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        loaded = { addon: require(file) as Addon };
      } catch (err) {
        loaded = { error: `the peer-credential addon ${file} does not load: ${(err as Error).message} (rebuild it: npm run build:native)` };
      }
      return loaded;
    }
    if (dirname(dir) === dir) break;
  }
  loaded = { error: `the peer-credential addon (${ADDON}) was not built: run npm run build:native (needs python3, make, a C compiler and the Node headers), or set GK_SOCKET_PEER_CHECK=off (development only)` };
  return loaded;
}

/** Why peer credentials cannot be read on this machine, or undefined when they can. */
export function peerCredentialsUnavailable(): string | undefined {
  const l = load();
  return 'error' in l ? l.error : undefined;
}

/** The peer of a connected Unix socket; throws with the reason when it cannot be read. */
export function peerCredentials(socket: Socket): PeerCredentials {
  const l = load();
  if ('error' in l) throw new Error(l.error);
  // Node keeps the descriptor on its internal handle (libuv's uv_fileno); there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor (already closed?)');
  return l.addon.peerCredentials(fd);
}
