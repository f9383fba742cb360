import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { knownVariables, repoFile, requireTool, ROOT, run } from './support';

// The production compose file (deploy/docker-compose.yml), the development one (docker-compose.yml)
// and the NATS server configuration they share. No container engine here: dclint validates the
// files against the Compose Specification schema, nats-server -t the NATS configuration, and the
// properties a production deployment needs are asserted below.

interface Service {
  image?: string;
  restart?: string;
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  privileged?: boolean;
  user?: string;
  hostname?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
}

const load = (path: string) => parse(repoFile(path), { merge: true }) as Compose;
const production = load('deploy/docker-compose.yml');
const development = load('docker-compose.yml');
const GK_IMAGE = /^\$\{GK_IMAGE:\?[^}]+\}$/;
const gracekeeperServices = Object.entries(production.services).filter(([, s]) => GK_IMAGE.test(s.image ?? ''));
const natsServices = (c: Compose) => Object.entries(c.services).filter(([, s]) => s.image?.startsWith('nats:'));

async function dclintErrors(file: string): Promise<string[]> {
  const result = await run(process.execPath, [join(ROOT, 'node_modules', 'dclint', 'bin', 'dclint.cjs'), file, '-f', 'json', '--color', 'false']);
  const reports = JSON.parse(result.stdout) as Array<{ messages: Array<{ type: string; rule: string; message: string; line: number }> }>;
  return reports.flatMap((r) => r.messages.filter((m) => m.type === 'error').map((m) => `${m.line}: ${m.rule}: ${m.message}`));
}

describe('compose files', () => {
  it.each(['deploy/docker-compose.yml', 'docker-compose.yml'])('%s is valid Compose (dclint, schema errors)', async (file) => {
    expect(await dclintErrors(join(ROOT, file))).toEqual([]);
  });

  it('dclint does report schema errors (control)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-compose-'));
    writeFileSync(join(dir, 'compose.yml'), 'services:\n  a:\n    image: x\n    healthcheck: { test: ["CMD", "true"], start_period: 30 }\n    restart: { policy: always }\n');
    expect((await dclintErrors(join(dir, 'compose.yml'))).length).toBeGreaterThan(0);
  });
});

describe('deploy/docker-compose.yml (production)', () => {
  it('runs three JetStream servers, each with its own persistent volume at the configured store_dir', () => {
    const nats = natsServices(production);
    expect(nats.map(([name]) => name).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const storeDir = /store_dir:\s*(\S+)/.exec(repoFile('deploy/nats/nats-server.conf'))![1];
    const volumes = nats.map(([, s]) => s.volumes?.find((v) => v.endsWith(`:${storeDir}`))?.split(':')[0]);
    expect(new Set(volumes).size).toBe(3);
    for (const volume of volumes) expect(Object.keys(production.volumes ?? {})).toContain(volume);
    for (const [name, s] of nats) {
      expect(s.hostname).toBe(name);
      expect(s.environment?.NATS_SERVER_NAME).toBe(name);
      expect(repoFile('deploy/nats/nats-server.conf')).toContain(`nats://${name}:6222`);
    }
  });

  it('creates the event stream with three replicas and gives every program all three servers', () => {
    expect(gracekeeperServices.length).toBeGreaterThanOrEqual(6);
    for (const [, s] of gracekeeperServices) {
      expect(s.environment?.GK_STREAM_REPLICAS).toBe('3');
      expect(s.environment?.NATS_URL?.split(',').sort()).toEqual(['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
    }
  });

  it('keeps PostgreSQL on a volume', () => {
    const pg = production.services.postgres!;
    expect(pg.volumes?.some((v) => /^[a-z0-9-]+:\/var\/lib\/postgresql$/.test(v))).toBe(true);
  });

  it('has no secret and no default in the file: secrets come from files, the image and cluster from the environment', () => {
    const text = repoFile('deploy/docker-compose.yml');
    expect(text).not.toMatch(/\$\{[A-Z_]+:?-/); // ${VAR:-default} / ${VAR-default}
    for (const [name, s] of Object.entries(production.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        expect({ name, key, secretInline: /(TOKEN|PASSWORD|SECRET|DATABASE_URL)$/.test(key) }).toEqual({ name, key, secretInline: false });
        if (key.endsWith('_FILE') && value.startsWith('/run/secrets/')) {
          const secret = value.slice('/run/secrets/'.length);
          expect({ name, key, granted: s.secrets?.includes(secret) }).toEqual({ name, key, granted: true });
          expect(production.secrets?.[secret]?.file).toMatch(/^\.\/secrets\//);
        }
      }
    }
    for (const [, s] of gracekeeperServices) expect(s.environment?.GK_ADMIN_TOKEN_FILE).toBe('/run/secrets/gk_admin_token');
    expect(production.services.registry?.environment?.DATABASE_URL_FILE).toBe('/run/secrets/gk_database_url');
    expect(production.services.postgres?.environment?.POSTGRES_PASSWORD_FILE).toBe('/run/secrets/postgres_password');
  });

  it('restarts every long-running service and never runs one privileged or as root', () => {
    for (const [name, s] of Object.entries(production.services)) {
      if (s.profiles?.length) continue; // on-demand tools (gracectl)
      expect({ name, restart: s.restart }).toEqual({ name, restart: 'unless-stopped' });
      expect(s.privileged).toBeFalsy();
      expect(s.user ?? '').not.toMatch(/^(root|0)(:|$)/);
    }
  });

  it('starts services only after what they need is healthy', () => {
    for (const [name, s] of Object.entries(production.services)) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect({ name, dependency, condition }).toEqual({ name, dependency, condition: 'service_healthy' });
        const target = production.services[dependency]!;
        // Its own healthcheck, or the image's HEALTHCHECK (deploy/Dockerfile).
        expect({ dependency, checked: Boolean(target.healthcheck) || GK_IMAGE.test(target.image ?? '') }).toEqual({ dependency, checked: true });
      }
    }
    expect(Object.keys(production.services.registry!.depends_on ?? {}).sort()).toEqual(['nats-1', 'nats-2', 'nats-3', 'postgres']);
  });

  it('sets only variables the programs read', () => {
    const known = knownVariables();
    const unknown = gracekeeperServices.flatMap(([name, s]) => Object.keys(s.environment ?? {}).filter((k) => !known.has(k)).map((k) => `${name}: ${k}`));
    expect(unknown).toEqual([]);
  });

  it('runs two coordinators, a registry and three node-agents from the one image', () => {
    const byProgram = (program: string) => gracekeeperServices.filter(([, s]) => s.command?.[0] === program && !s.profiles);
    expect(byProgram('coordinator')).toHaveLength(2);
    expect(byProgram('registry')).toHaveLength(1);
    const agents = byProgram('node-agent');
    expect(agents.map(([, s]) => s.environment?.GK_NODE).sort()).toEqual(['a', 'b', 'c']);
    expect(new Set(agents.map(([, s]) => s.volumes?.[0]?.split(':')[0])).size).toBe(3);
  });
});

describe('docker-compose.yml (development)', () => {
  it('says it is the development one and points at production', () => {
    expect(repoFile('docker-compose.yml')).toMatch(/^# DEVELOPMENT ONLY/);
    expect(repoFile('docker-compose.yml')).toContain('deploy/docker-compose.yml');
  });

  it('sets only variables the programs read', () => {
    const known = knownVariables();
    const programs = Object.entries(development.services).filter(([, s]) => s.image?.startsWith('node:'));
    expect(programs.flatMap(([name, s]) => Object.keys(s.environment ?? {}).filter((k) => !known.has(k)).map((k) => `${name}: ${k}`))).toEqual([]);
  });

  it('fixes the findings of issue 14: NATS volumes, no default token, restart policies, three agents', () => {
    const text = repoFile('docker-compose.yml');
    expect(text).not.toMatch(/change-me/i);
    expect(text).toMatch(/GK_ADMIN_TOKEN: \$\{GK_ADMIN_TOKEN:\?/);
    for (const [, s] of natsServices(development)) expect(s.volumes?.some((v) => /^nats-\d-data:\/data$/.test(v))).toBe(true);
    for (const [name, s] of Object.entries(development.services)) {
      if (name !== 'build') expect({ name, restart: s.restart }).toEqual({ name, restart: 'unless-stopped' });
    }
    const agents = Object.values(development.services).filter((s) => s.command?.join(' ').includes('node-agent'));
    expect(agents.map((s) => s.environment?.GK_NODE).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('deploy/nats/nats-server.conf', () => {
  it.each(['nats-1', 'nats-2', 'nats-3'])('is a valid configuration for %s (nats-server -t)', async (name) => {
    const natsServer = requireTool('nats-server', 'nats-server');
    const result = await run(natsServer, ['-t', '-c', join(ROOT, 'deploy', 'nats', 'nats-server.conf')], { env: { ...process.env, NATS_SERVER_NAME: name } });
    expect({ code: result.code, output: (result.stdout + result.stderr).trim() }).toEqual({ code: 0, output: expect.stringContaining('is valid') });
  });

  it('nats-server -t does reject a broken configuration: here, no server name (control)', async () => {
    const natsServer = requireTool('nats-server', 'nats-server');
    const { NATS_SERVER_NAME: _unset, ...env } = process.env;
    const result = await run(natsServer, ['-t', '-c', join(ROOT, 'deploy', 'nats', 'nats-server.conf')], { env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('NATS_SERVER_NAME');
  });
});
