import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { ConfigError } from './config';
import { peerCredentials, peerCredentialsUnavailable } from './peer-credentials';

/** Mode of a socket's directory when the agent creates it, and of every socket. */
export const SOCKET_DIRECTORY_MODE = 0o750;
export const SOCKET_MODE = 0o660;

/**
 * Who may use a Unix socket. File permissions are the first barrier (socket 0660 owned by
 * `group`, in a 0750 directory); the peer's credentials (SO_PEERCRED) are the second: a
 * connection is accepted when the peer's uid is in `allowUids` or its (primary) gid in `allowGids`.
 */
export interface SocketAccess {
  /** Group of the socket and of a directory created for it: the one nfsd or ganesha runs as. */
  gid: number;
  allowUids: readonly number[];
  allowGids: readonly number[];
  /** False only in development (GK_SOCKET_PEER_CHECK=off): file permissions alone. */
  peerCheck: boolean;
}

/** The settings as an operator writes them (names or numbers, comma-separated lists). */
export interface SocketAccessSettings {
  /** GK_SOCKET_GROUP: group name or gid; default: this process's group. */
  group?: string;
  /** GK_SOCKET_ALLOW_UIDS: users (names or uids); default: root and this process's user. */
  allowUids?: string;
  /** GK_SOCKET_ALLOW_GIDS: groups (names or gids); default: the socket's group. */
  allowGids?: string;
  /** GK_SOCKET_PEER_CHECK: on (default) or off. */
  peerCheck?: 'on' | 'off';
}

/** Resolves the settings (names through NSS, as `getent` does); every problem is reported at once. */
export function socketAccess(settings: SocketAccessSettings = {}): SocketAccess {
  const problems: string[] = [];
  const ids = (variable: string, database: 'passwd' | 'group', list: string) =>
    list.split(',').map((s) => s.trim()).filter(Boolean).flatMap((name) => {
      const id = lookUpId(database, name);
      if (id === undefined) problems.push(`${variable}: no ${database === 'passwd' ? 'user' : 'group'} ${JSON.stringify(name)}`);
      return id === undefined ? [] : [id];
    });
  const [gid] = settings.group ? ids('GK_SOCKET_GROUP', 'group', settings.group) : [process.getegid!()];
  const allowUids = settings.allowUids !== undefined ? ids('GK_SOCKET_ALLOW_UIDS', 'passwd', settings.allowUids) : [...new Set([0, process.geteuid!()])];
  const allowGids = settings.allowGids !== undefined ? ids('GK_SOCKET_ALLOW_GIDS', 'group', settings.allowGids) : gid === undefined ? [] : [gid];
  if (problems.length) throw new ConfigError(problems);
  return { gid: gid!, allowUids, allowGids, peerCheck: settings.peerCheck !== 'off' };
}

/** A numeric id as is; a name through getent (local files, LDAP, sssd alike); undefined when unknown. */
function lookUpId(database: 'passwd' | 'group', name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(name)) return undefined;
  try {
    const entry = execFileSync('getent', [database, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const id = Number(entry.split(':')[2]);
    return Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `access` admits the peer of `socket`: undefined when it does, else the reason (for the log). */
export function refusePeer(socket: Socket, access: SocketAccess): string | undefined {
  if (!access.peerCheck) return undefined;
  let peer;
  try {
    peer = peerCredentials(socket);
  } catch (err) {
    return `its peer credentials cannot be read: ${(err as Error).message}`;
  }
  if (access.allowUids.includes(peer.uid) || access.allowGids.includes(peer.gid)) return undefined;
  return `peer pid ${peer.pid} uid ${peer.uid} gid ${peer.gid} is not allowed (allowed uids: ${access.allowUids.join(',') || 'none'}; gids: ${access.allowGids.join(',') || 'none'}; see GK_SOCKET_ALLOW_UIDS / GK_SOCKET_ALLOW_GIDS)`;
}

/** Throws at start-up when a peer check is asked for and cannot be done (fail closed). */
export function assertPeerCheckPossible(access: SocketAccess): void {
  const why = access.peerCheck ? peerCredentialsUnavailable() : undefined;
  if (why) throw new Error(`cannot check the peers of Unix sockets: ${why}`);
}

/**
 * Makes `dir` ready to hold a socket. A missing directory is created 0750 with the socket's
 * group. An existing one is used only when nobody but its owner can change what is inside
 * (owner root or this process's user, not writable by group or others): anyone else could
 * replace the socket with one of their own. It is never chmod'ed: it may be shared (/tmp).
 */
export function prepareSocketDirectory(dir: string, access: SocketAccess): void {
  let created = false;
  try {
    lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: SOCKET_DIRECTORY_MODE });
    created = true;
  }
  if (created) {
    chownSync(dir, -1, access.gid);
    chmodSync(dir, SOCKET_DIRECTORY_MODE); // the umask may have taken bits away; nothing more
  }
  const st = lstatSync(dir);
  const uid = process.geteuid!();
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory${st.isSymbolicLink() ? ' (a symbolic link: refused)' : ''}`);
  if (st.uid !== uid && st.uid !== 0) throw new Error(`${dir} belongs to uid ${st.uid}, not to this process (uid ${uid}) or root: refusing to put a socket there`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)}): refusing to put a socket there (use a directory of its own, e.g. /run/gracekeeper)`);
}

/** The umask under which a socket is bound: it is created 0600, then given its group and 0660 (`setSocketOwnership`). */
export const SOCKET_BIND_UMASK = 0o177;

/** After the bind: the socket's group and mode. */
export function setSocketOwnership(path: string, access: SocketAccess): void {
  chownSync(path, -1, access.gid);
  chmodSync(path, SOCKET_MODE);
}
