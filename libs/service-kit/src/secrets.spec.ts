import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, env, loadConfig } from './config';
import { readSecretFiles } from './secrets';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gk-secrets-'));
  writeFileSync(join(dir, 'admin-token'), 'a-long-admin-token\n');
  writeFileSync(join(dir, 'read-token'), 'a-long-read-token');
  writeFileSync(join(dir, 'database-url'), 'postgres://gk:pw@db/gk\n');
  writeFileSync(join(dir, 'empty'), '\n');
  chmodSync(join(dir, 'admin-token'), 0o400);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Schema = z.object({ GK_ADMIN_TOKEN: env.optionalToken, GK_READ_TOKEN: env.optionalToken, GK_END_GRACE_FILE: z.string().optional() });

describe('secrets from files', () => {
  it('reads <NAME>_FILE into <NAME>, dropping one trailing newline; other *_FILE settings are left alone', () => {
    const { env: read, problems, warnings } = readSecretFiles({
      GK_ADMIN_TOKEN_FILE: join(dir, 'admin-token'), DATABASE_URL_FILE: join(dir, 'database-url'), GK_END_GRACE_FILE: '/proc/fs/nfsd/v4_end_grace',
    });
    expect({ read, problems, warnings }).toEqual({
      read: { GK_ADMIN_TOKEN: 'a-long-admin-token', DATABASE_URL: 'postgres://gk:pw@db/gk', GK_END_GRACE_FILE: '/proc/fs/nfsd/v4_end_grace' },
      problems: [],
      warnings: [],
    });
  });

  it('lists every problem: both forms given, an unreadable file, an empty file', () => {
    const { problems } = readSecretFiles({
      GK_ADMIN_TOKEN: 'x', GK_ADMIN_TOKEN_FILE: join(dir, 'admin-token'), DATABASE_URL_FILE: join(dir, 'missing'), GK_READ_TOKEN_FILE: join(dir, 'empty'),
    });
    expect(problems).toEqual([
      'GK_ADMIN_TOKEN and GK_ADMIN_TOKEN_FILE are both set: keep one',
      `GK_READ_TOKEN_FILE: ${join(dir, 'empty')} is empty`,
      `DATABASE_URL_FILE: cannot read ${join(dir, 'missing')}: ENOENT`,
    ]);
  });

  it('loadConfig reads the files of its own schema, and warns about tokens given directly', () => {
    const warnings: string[] = [];
    const config = loadConfig(Schema, { GK_ADMIN_TOKEN_FILE: join(dir, 'admin-token'), GK_READ_TOKEN: 'direct-read-token', DATABASE_URL_FILE: join(dir, 'missing') }, { warn: (m) => warnings.push(m) });
    // DATABASE_URL is not this schema's: its file is not read (another service's setting in a shared env file).
    expect(config).toEqual({ GK_ADMIN_TOKEN: 'a-long-admin-token', GK_READ_TOKEN: 'direct-read-token' });
    expect(warnings).toEqual(['GK_READ_TOKEN is given directly (environment or command line), where other processes can read it: use GK_READ_TOKEN_FILE outside development']);
  });

  it('loadConfig reports file problems together with the other problems', () => {
    try {
      loadConfig(Schema, { GK_ADMIN_TOKEN_FILE: join(dir, 'missing'), GK_READ_TOKEN: 'short' }, { warn: () => undefined });
      throw new Error('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([`GK_ADMIN_TOKEN_FILE: cannot read ${join(dir, 'missing')}: ENOENT`, expect.stringMatching(/GK_READ_TOKEN.*at least 8/)]);
    }
  });
});
