import { isValidToken, streamNames } from '#contracts';
import { databaseUrl, redactUrl, testDatabaseName, uniquePrefix } from '#infra';

describe('uniquePrefix', () => {
  it('is a valid subject token and stream name for any label', () => {
    for (const label of ['replay', 'Some Label/with.dots', '', '***', 'x'.repeat(300), 'grace-coordinator']) {
      const prefix = uniquePrefix(label);
      expect(prefix).toMatch(/^gkt_[a-z0-9_]+_[0-9a-f]{8}$/);
      expect(isValidToken(prefix)).toBe(true);
      expect(streamNames(prefix).stream).toMatch(/^GKT_[A-Z0-9_]+_EVENTS$/);
    }
  });

  it('differs on every call', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => uniquePrefix('same')));
    expect(seen.size).toBe(1000);
  });
});

describe('database URLs', () => {
  it('names test databases so they are recognisable and valid identifiers', () => {
    expect(testDatabaseName()).toMatch(/^gk_test_[0-9a-f]{12}$/);
  });

  it('points a URL at another database, keeping credentials and options', () => {
    expect(databaseUrl('postgres://u:p@h:5/base?sslmode=disable', 'gk_test_1')).toBe('postgres://u:p@h:5/gk_test_1?sslmode=disable');
  });

  it('hides passwords in printed URLs', () => {
    expect(redactUrl('postgres://u:secret@h:5/db')).toBe('postgres://u:***@h:5/db');
    expect(redactUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  });
});
