/**
 * Unix socket ownership and peer credentials, with real processes: the test runs as root and
 * spawns clients as `nobody` (uid/gid 65534) to be the other local user.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketAccess, type SocketAccess } from './socket-access';
import { UnixSocketServer } from './unix-socket-server';

const NOBODY = 65534;
let base: string;
const servers: UnixSocketServer[] = [];

beforeAll(() => {
  if (process.geteuid!() !== 0) throw new Error('these tests need root (to create sockets for another group and run a client as nobody)');
  base = mkdtempSync(join(tmpdir(), 'gk-sock-'));
  chmodSync(base, 0o755); // nobody must reach the socket directories inside
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** An echo server: each admitted connection gets back `ok <what it sent>`. */
async function echoServer(path: string, access: SocketAccess) {
  const refusals: string[] = [];
  const server = await UnixSocketServer.listen(path, (socket) => socket.on('data', (d) => socket.end(`ok ${String(d)}`)), { access, onRefused: (m) => refusals.push(m) });
  servers.push(server);
  return { server, refusals };
}

/** Connects as `nobody` in a child process and reports what happened. */
function connectAsNobody(path: string): Promise<{ data?: string; error?: string }> {
  const script = `
    const c = require('node:net').connect(process.argv[1]);
    let data = '';
    c.on('connect', () => c.write('ping'));
    c.on('data', (d) => { data += d; });
    c.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
    c.on('close', () => { console.log(JSON.stringify({ data })); process.exit(0); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, path], { uid: NOBODY, gid: NOBODY, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', () => resolve(JSON.parse(out)));
  });
}

const mode = (path: string) => statSync(path).mode & 0o7777;

describe('UnixSocketServer access', () => {
  it('creates the directory 0750 and the socket 0660, both with the configured group', async () => {
    const path = join(base, 'modes', 'agent.sock');
    await echoServer(path, socketAccess({ group: 'nogroup' }));
    expect({ mode: mode(join(base, 'modes')), gid: statSync(join(base, 'modes')).gid }).toEqual({ mode: 0o750, gid: NOBODY });
    expect({ mode: mode(path), gid: statSync(path).gid }).toEqual({ mode: 0o660, gid: NOBODY });
  });

  it('refuses, and logs, a peer that the file permissions let in but the allow list does not name', async () => {
    const path = join(base, 'refuse', 'agent.sock');
    // nobody is in the socket's group (so connect() succeeds) but not allowed by uid or gid.
    const { server, refusals } = await echoServer(path, socketAccess({ group: 'nogroup', allowUids: 'root', allowGids: '' }));
    // Closed unanswered: the client sees an empty end, or EPIPE/ECONNRESET when its write races the close.
    const result = await connectAsNobody(path);
    expect(result.data ?? '').toBe('');
    expect([undefined, 'EPIPE', 'ECONNRESET']).toContain(result.error);
    expect(refusals).toEqual([expect.stringMatching(/^refused a connection on .*agent\.sock: peer pid \d+ uid 65534 gid 65534 is not allowed \(allowed uids: 0; gids: none; see GK_SOCKET_ALLOW_UIDS/)]);
    expect(server.refused).toBe(1);
    expect(server.connections).toBe(0);
  });

  it('reports refusals at most once a second, counting the rest', async () => {
    const path = join(base, 'flood', 'agent.sock');
    const { server, refusals } = await echoServer(path, socketAccess({ group: 'nogroup', allowUids: 'root', allowGids: '' }));
    const script = `
      const net = require('node:net');
      let left = 20;
      const next = () => { if (left-- === 0) return; const c = net.connect(process.argv[1]); c.on('error', () => {}); c.on('close', next); };
      next();`;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script, path], { uid: NOBODY, gid: NOBODY, cwd: '/', stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', () => resolve());
    });
    expect(server.refused).toBe(20);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThan(5);
  });

  it('admits a peer allowed by its group, and root by its uid', async () => {
    const path = join(base, 'admit', 'agent.sock');
    const { refusals } = await echoServer(path, socketAccess({ group: 'nogroup', allowUids: '0', allowGids: 'nogroup' }));
    expect(await connectAsNobody(path)).toEqual({ data: 'ok ping' });
    expect(refusals).toEqual([]);
  });

  it('keeps out a user outside the socket group by file permissions alone', async () => {
    const path = join(base, 'perm', 'agent.sock');
    await echoServer(path, socketAccess({ group: '0', allowUids: 'nobody' }));
    expect(await connectAsNobody(path)).toEqual({ error: 'EACCES' });
  });

  it('refuses a directory another user owns, or that others can write', async () => {
    const foreign = join(base, 'foreign');
    mkdirSync(foreign, { mode: 0o750 });
    chownSync(foreign, NOBODY, NOBODY);
    await expect(UnixSocketServer.listen(join(foreign, 'a.sock'), () => undefined)).rejects.toThrow(/belongs to uid 65534, not to this process \(uid 0\) or root/);
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o1777);
    await expect(UnixSocketServer.listen(join(open, 'a.sock'), () => undefined)).rejects.toThrow(/writable by group or others \(mode 1777\)/);
  });

  it('reports unknown users and groups as configuration problems, all at once', () => {
    expect(() => socketAccess({ group: 'no-such-group-gk', allowUids: 'no-such-user-gk,0' })).toThrow(/GK_SOCKET_GROUP: no group "no-such-group-gk"[\s\S]*GK_SOCKET_ALLOW_UIDS: no user "no-such-user-gk"/);
  });
});
