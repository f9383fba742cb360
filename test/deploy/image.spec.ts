import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { repoFile, ROOT } from './support';

// The OCI image (deploy/Dockerfile) and the entry scripts it shares with systemd and Kubernetes
// (deploy/runtime). No container engine here: the Dockerfile is linted and its structure checked.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const entry = require('../../deploy/runtime/gracekeeper.js') as {
  PROGRAMS: Record<string, string>;
  ALIASES: Record<string, string>;
  programMain(program: string): string | undefined;
};

const dockerfileText = repoFile('deploy/Dockerfile');
const dockerfile = DockerfileParser.parse(dockerfileText);
const instructions = dockerfile.getInstructions();
const stages = dockerfile.getFROMs();
const lastStageStart = stages[stages.length - 1]!.getRange().start.line;
const finalStage = instructions.filter((i) => i.getRange().start.line >= lastStageStart);
const args = (keyword: string, among = instructions) => among.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');
/** COPY instructions with their --from stage (undefined: the build context) and sources. */
const copies = (among = instructions) => among.filter((i) => i.getKeyword() === 'COPY').map((i) => {
  const flags = (i as unknown as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags();
  const from = flags.find((f) => f.getName() === 'from')?.getValue() ?? undefined;
  const words = i.getArguments().map((a) => a.getValue());
  return { from, sources: words.slice(0, -1) };
});

describe('deploy/Dockerfile', () => {
  it('has no lint problems (dockerfile-utils, the VS Code Docker validator)', () => {
    const problems = validate(dockerfileText).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('the linter does find problems (control)', () => {
    expect(validate('FROM node:20\nRUNN npm ci\nHEALTHCHECK --interval=abc CMD true\n').length).toBeGreaterThanOrEqual(2);
  });

  it('is multi-stage: a build stage with every dependency, a runtime stage with production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const run = args('RUN').join('\n');
    expect(run).toMatch(/npm ci\b/);
    expect(run).toMatch(/npm run build/);
    expect(run).toMatch(/npm prune --omit=dev/);
    // The runtime stage installs nothing itself: it copies the pruned node_modules from the build.
    expect(args('RUN', finalStage).join('\n')).not.toMatch(/npm (ci|install)/);
    expect(copies(finalStage)).toContainEqual({ from: 'build', sources: ['/src/node_modules'] });
    expect(copies(finalStage).every((c) => c.from === 'build')).toBe(true);
  });

  it('runs as a non-root user in the final stage', () => {
    const users = args('USER', finalStage);
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.trim();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    // The uid named is the one the image creates (Kubernetes securityContext uses it).
    expect(args('RUN', finalStage).join('\n')).toContain(`--uid ${user.split(':')[0]}`);
  });

  it('checks health on /health/live of the admin port the services listen on', () => {
    const healthchecks = args('HEALTHCHECK', finalStage);
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0]).toContain('deploy/runtime/healthcheck.js');
    expect(repoFile('deploy/runtime/healthcheck.js')).toContain("path: '/health/live'");
    // The path the script asks for is the one the services serve (service-kit HealthController).
    const health = repoFile('libs/service-kit/src/health.ts');
    expect(health).toMatch(/@Controller\('health'\)/);
    expect(health).toMatch(/@Get\('live'\)/);
    const env = args('ENV', finalStage).join(' ');
    expect(env).toMatch(/GK_ADMIN_PORT=8080/);
    expect(env).toMatch(/GK_ADMIN_HOST=0\.0\.0\.0/);
    expect(args('EXPOSE', finalStage).join(' ')).toContain('8080');
  });

  it('has one entry point that selects the program by command', () => {
    expect(args('ENTRYPOINT', finalStage)[0]).toContain('deploy/runtime/gracekeeper.js');
  });

  it('copies only what exists or what the build produces, and .dockerignore keeps local state out', () => {
    for (const { from, sources } of copies()) {
      if (from !== undefined) continue;
      for (const source of sources) expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
    }
    const ignored = repoFile('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const path of ['node_modules', 'dist', '.tmp', '.git']) expect(ignored).toContain(path);
    for (const path of ['package.json', 'package-lock.json', 'apps', 'libs', 'deploy/runtime']) expect(ignored).not.toContain(path);
  });
});

describe('deploy/runtime/gracekeeper.js (entry point)', () => {
  it('maps every program to an app of this repository', () => {
    const apps = readdirSync(join(ROOT, 'apps'));
    for (const [program, main] of Object.entries(entry.PROGRAMS)) {
      const app = /^dist\/apps\/([^/]+)\/src\/main\.js$/.exec(main)?.[1];
      expect({ program, app: apps.includes(app ?? '') ? app : undefined }).toEqual({ program, app });
      expect(existsSync(join(ROOT, 'apps', app!, 'src', 'main.ts'))).toBe(true);
    }
    for (const app of ['grace-coordinator', 'client-registry', 'node-agent', 'gracectl', 'gk-cltrack']) {
      expect(entry.programMain(app)).toBe(join(ROOT, 'dist', 'apps', app, 'src', 'main.js'));
    }
    expect(entry.programMain('nonsense')).toBeUndefined();
    expect(entry.programMain('__proto__')).toBeUndefined();
  });
});
