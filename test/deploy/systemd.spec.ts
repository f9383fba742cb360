import { SECRET_VARIABLES } from '../../libs/service-kit/src/secrets';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knownVariables, repoFile, requireTool, ROOT, run } from './support';

// The systemd units (deploy/systemd): `systemd-analyze verify` must accept them without a single
// complaint, `systemd-analyze security --offline` must rate them well hardened, and the node-agent
// must take nfsdcld's place before nfs-server.service with only the capability it needs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const entry = require('../../deploy/runtime/gracekeeper.js') as { PROGRAMS: Record<string, string> };

const UNIT_DIR = join(ROOT, 'deploy', 'systemd');
const units = readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service')).sort();
/** Highest acceptable `systemd-analyze security` exposure (0 best, 10 worst; "OK" is below 4.5). */
const MAX_EXPOSURE: Record<string, number> = {
  'gracekeeper-coordinator.service': 2.0,
  'gracekeeper-registry.service': 2.0,
  'gracekeeper-node-agent.service': 2.5,
};

/** Every `Key=value` of a unit, repeated keys in order. */
function directives(unit: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of repoFile(`deploy/systemd/${unit}`).split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}
const one = (d: Map<string, string[]>, key: string) => d.get(key)?.at(-1);
const words = (d: Map<string, string[]>, key: string) => (d.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

/** verify's whole verdict: an exit code and every line it printed (warnings exit 0 too). */
async function verify(paths: string[]): Promise<{ code: number; complaints: string }> {
  const r = await run(requireTool('systemd-analyze', 'systemd'), ['verify', ...paths]);
  return { code: r.code, complaints: (r.stdout + r.stderr).trim() };
}

describe('deploy/systemd units', () => {
  it('are the three services', () => {
    expect(units).toEqual(['gracekeeper-coordinator.service', 'gracekeeper-node-agent.service', 'gracekeeper-registry.service']);
  });

  it('pass systemd-analyze verify without a warning', async () => {
    expect(await verify(units.map((u) => join(UNIT_DIR, u)))).toEqual({ code: 0, complaints: '' });
  });

  it('systemd-analyze verify does complain about a bad unit (control)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-units-'));
    writeFileSync(join(dir, 'bad.service'), '[Service]\nExecStart=/usr/bin/node x.js\nProtectSystem=sideways\n');
    expect((await verify([join(dir, 'bad.service')])).complaints).toMatch(/ProtectSystem|protect system/i);
  });

  it.each(Object.entries(MAX_EXPOSURE))('%s is hardened (systemd-analyze security exposure ≤ %s)', async (unit, max) => {
    const r = await run(requireTool('systemd-analyze', 'systemd'), ['security', '--offline=true', '--no-pager', join(UNIT_DIR, unit)]);
    const exposure = /Overall exposure level for \S+: ([0-9.]+)/.exec(r.stdout + r.stderr)?.[1];
    expect({ unit, exposure: exposure === undefined ? r.stdout + r.stderr : Number(exposure) <= max }).toEqual({ unit, exposure: true });
  });

  it.each(units)('%s runs a program through the one entry point, with secrets as credentials', (unit) => {
    const d = directives(unit);
    const exec = one(d, 'ExecStart')!.split(/\s+/);
    expect(exec.slice(0, 2)).toEqual(['/usr/bin/node', '/opt/gracekeeper/deploy/runtime/gracekeeper.js']);
    expect(Object.keys(entry.PROGRAMS)).toContain(exec[2]);
    expect(one(d, 'Restart')).toBe('always');
    expect(one(d, 'ProtectSystem')).toBe('strict');
    expect(one(d, 'NoNewPrivileges')).toBe('yes');
    const credentials = new Map((d.get('LoadCredential') ?? []).map((c) => c.split(':') as [string, string]));
    for (const variable of (d.get('Environment') ?? []).filter((e) => /_FILE=%d\//.test(e))) {
      const [name, value] = variable.split('=') as [string, string];
      expect(SECRET_VARIABLES).toContain(name.replace(/_FILE$/, ''));
      expect(credentials.get(value.slice('%d/'.length))).toMatch(/^\/etc\/gracekeeper\//);
    }
    expect(credentials.has('admin-token')).toBe(true);
    // No secret in the unit or its environment file example.
    expect((d.get('Environment') ?? []).some((e) => /^(GK_ADMIN_TOKEN|DATABASE_URL)=/.test(e))).toBe(false);
  });

  it('units and environment file examples set only variables the programs read', () => {
    const known = knownVariables();
    const fromUnits = units.flatMap((u) => (directives(u).get('Environment') ?? []).map((e) => e.split('=')[0]!));
    const fromExamples = ['gracekeeper.env.example', 'node-agent.env.example']
      .flatMap((f) => repoFile(`deploy/systemd/${f}`).split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]!));
    expect(fromExamples.length).toBeGreaterThan(3);
    expect([...fromUnits, ...fromExamples].filter((name) => !known.has(name))).toEqual([]);
  });

  it('coordinator and registry run as a dynamic user with no capability at all', () => {
    for (const unit of ['gracekeeper-coordinator.service', 'gracekeeper-registry.service']) {
      const d = directives(unit);
      expect(one(d, 'DynamicUser')).toBe('yes');
      expect(one(d, 'CapabilityBoundingSet')).toBe('');
      expect(one(d, 'ProtectKernelTunables')).toBe('yes');
    }
    expect(directives('gracekeeper-registry.service').get('Environment')).toContain('DATABASE_URL_FILE=%d/database-url');
  });

  it('node-agent replaces nfsdcld, starts before nfsd, and can open the cld pipe and write v4_end_grace', () => {
    const d = directives('gracekeeper-node-agent.service');
    expect(words(d, 'Before')).toContain('nfs-server.service');
    expect(words(d, 'Conflicts')).toContain('nfsdcld.service');
    expect(words(d, 'WantedBy')).toContain('nfs-server.service');
    expect(one(d, 'User')).toBe('gracekeeper');
    expect(repoFile('deploy/systemd/gracekeeper.sysusers.conf')).toMatch(/^u gracekeeper /m);
    expect(words(d, 'CapabilityBoundingSet')).toEqual(['CAP_DAC_OVERRIDE']);
    expect(words(d, 'AmbientCapabilities')).toEqual(['CAP_DAC_OVERRIDE']);
    const env = new Map((d.get('Environment') ?? []).map((e) => e.split('=') as [string, string]));
    const pipe = env.get('GK_CLD_PIPE')!;
    expect(pipe).toBe('/var/lib/nfs/rpc_pipefs/nfsd/cld');
    expect(words(d, 'ReadWritePaths').map((p) => p.replace(/^-/, '')).some((p) => pipe.startsWith(`${p}/`))).toBe(true);
    // ProtectKernelTunables would make /proc/fs (and so /proc/fs/nfsd) read-only.
    expect(env.get('GK_END_GRACE_FILE')).toBe('/proc/fs/nfsd/v4_end_grace');
    expect(one(d, 'ProtectKernelTunables')).toBeUndefined();
    expect(env.get('GK_JSON_SOCKET')).toBe('/run/gracekeeper/agent.sock');
    expect(one(d, 'RuntimeDirectory')).toBe('gracekeeper');
    // Every variable the units set is one the node-agent reads.
    const agentConfig = repoFile('apps/node-agent/src/config.ts');
    for (const name of env.keys()) if (!name.endsWith('_FILE') || name === 'GK_END_GRACE_FILE') expect(agentConfig).toContain(`'${name}'`);
  });
});
