import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { describeNatsSecurity, developmentMode, NatsAuthError, natsSecurityOptions } from './nats-connection';

describe('NATS connection security from files', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-nats-conn-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('without settings: no credentials, no TLS, and a loud warning outside development mode', () => {
    const { options, security } = natsSecurityOptions('nats://127.0.0.1:4222', {});
    expect(options).toEqual({});
    expect(security).toEqual({ credentials: 'none', tls: false, development: false });
    expect(describeNatsSecurity('nats://127.0.0.1:4222', security)).toMatch(/WARNING: no NATS credentials/);
    expect(describeNatsSecurity('nats://127.0.0.1:4222', { ...security, development: true })).toMatch(/DEVELOPMENT MODE.*production\.$/);
    expect(describeNatsSecurity('nats://nats-1:4222', { ...security, development: true })).toMatch(/DEVELOPMENT MODE.*not\.$/);
    expect(developmentMode({ GK_DEV_MODE: '1' })).toBe(true);
    expect(developmentMode({ GK_DEV_MODE: '0' })).toBe(false);
  });

  it('reads a user file, an nkey seed or a creds file, one at a time, naming the user but never the secret', () => {
    const user = natsSecurityOptions('nats://h:4222', { GK_NATS_USER_FILE: file('u', 'gk-agent-default\ns3cret\n') });
    expect(user.security.credentials).toBe('user gk-agent-default');
    expect(typeof user.options.authenticator).toBe('function');
    expect(JSON.stringify(user.security)).not.toContain('s3cret');
    const seed = new TextDecoder().decode(createUser().getSeed());
    expect(natsSecurityOptions('nats://h', { GK_NATS_NKEY_FILE: file('nk', `${seed}\n`) }).security.credentials).toBe('nkey');
    expect(() => natsSecurityOptions('nats://h', { GK_NATS_NKEY_FILE: file('bad', 'SAnotaseed') })).toThrow(/user nkey seed/);
    expect(() => natsSecurityOptions('nats://h', { GK_NATS_USER_FILE: file('half', 'only-a-user') })).toThrow(/password on its second/);
    expect(() => natsSecurityOptions('nats://h', { GK_NATS_USER_FILE: join(dir, 'missing') })).toThrow(NatsAuthError);
    expect(() => natsSecurityOptions('nats://h', { GK_NATS_USER_FILE: file('u2', 'a\nb'), GK_NATS_NKEY_FILE: file('nk2', seed) })).toThrow(/only one of/);
  });

  it('tls:// or any TLS file makes TLS mandatory; a client certificate needs its key', () => {
    expect(natsSecurityOptions('tls://h:4222', {}).options.tls).toEqual({});
    expect(natsSecurityOptions('nats://a:1,tls://b:2', {}).security.tls).toBe(true);
    const ca = file('ca.pem', 'not checked here');
    expect(natsSecurityOptions('nats://h', { GK_NATS_CA_FILE: ca }).options.tls).toEqual({ caFile: ca });
    expect(() => natsSecurityOptions('nats://h', { GK_NATS_CERT_FILE: ca })).toThrow(/go together/);
    expect(() => natsSecurityOptions('nats://h', { GK_NATS_CA_FILE: join(dir, 'nope.pem') })).toThrow(/cannot read/);
  });
});
