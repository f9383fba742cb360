/**
 * TLS from files (SPEC §6): a CA from GK_NATS_CA_FILE verifies the server; `tls://` or any TLS file
 * makes TLS mandatory, so a server without TLS is refused instead of talked to in clear text.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '#cluster-store';
import { startNatsServer, type NatsServer } from '#infra';

let dir: string;
let secure: NatsServer;
let plain: NatsServer;

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl, as an operator would). */
function makeCertificates(): { ca: string; cert: string; key: string; otherCa: string } {
  const path = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=gk-test-ca', '-keyout', path('ca.key'), '-out', path('ca.pem'));
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=other-ca', '-keyout', path('other.key'), '-out', path('other.pem'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', path('server.key'), '-out', path('server.csr'));
  writeFileSync(path('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', path('san.ext'), '-out', path('server.pem'));
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server.key'), otherCa: path('other.pem') };
}

let files: ReturnType<typeof makeCertificates>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gk-nats-tls-'));
  files = makeCertificates();
  const q = JSON.stringify;
  secure = await startNatsServer({ extraConfig: `tls {\n  cert_file: ${q(files.cert)}\n  key_file: ${q(files.key)}\n}` });
  plain = await startNatsServer();
}, 60_000);

afterAll(async () => {
  await secure?.stop();
  await plain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tlsUrl = (server: NatsServer) => server.url.replace(/^nats:/, 'tls:');

describe('NATS TLS from files', () => {
  it('connects over TLS, verifying the server with the CA file', async () => {
    const nc = await connectNats(tlsUrl(secure), { GK_NATS_CA_FILE: files.ca }, { reconnect: false });
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
    const viaCaOnly = await connectNats(secure.url, { GK_NATS_CA_FILE: files.ca }, { reconnect: false });
    await viaCaOnly.close();
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    await expect(connectNats(tlsUrl(secure), { GK_NATS_CA_FILE: files.otherCa }, { reconnect: false })).rejects.toThrow();
  });

  it('tls:// (or a CA file) refuses a server that offers no TLS instead of talking in clear text', async () => {
    await expect(connectNats(tlsUrl(plain), {}, { reconnect: false })).rejects.toThrow(/tls|secure/i);
    await expect(connectNats(plain.url, { GK_NATS_CA_FILE: files.ca }, { reconnect: false })).rejects.toThrow(/tls|secure/i);
    // Without any TLS setting the same server is fine: TLS is what the operator asks for, not a guess.
    const nc = await connectNats(plain.url, {}, { reconnect: false });
    await nc.close();
  });
});
