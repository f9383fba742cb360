import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGraceStore, OpenedStore } from '#cluster-store';
import { freePort } from '#infra';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { emulateDockerfile, type EmulatedImage } from './dockerfile-emulator';
import { repoFile, run } from './support';

/**
 * deploy/Dockerfile without a container engine: its build stage really runs (npm ci, the
 * compile, the prune to production dependencies) and its final stage's tree is assembled; then
 * that tree is checked (no development dependency in it) and run: the entry point starts a
 * coordinator against the real NATS with the image's environment, and the image's HEALTHCHECK
 * command passes against it. What is not emulated: the base image and the user creation.
 */
jest.setTimeout(600_000);
const names = testStreamNames('deploy-image');
let workDir: string;
let image: EmulatedImage;
let opened: OpenedStore;
let coordinator: ChildProcess | undefined;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'gk-image-'));
  image = emulateDockerfile(workDir, (line) => process.stderr.write(`[image] ${line}\n`));
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'deploy-image-e2e' });
}, 600_000);

afterAll(async () => {
  if (coordinator && coordinator.exitCode === null && coordinator.signalCode === null) {
    const exited = new Promise((r) => coordinator!.once('exit', r));
    coordinator.kill('SIGKILL');
    await exited;
  }
  if (opened) {
    await cleanupStream(opened.nc, names);
    await opened.close();
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Image paths in a command (/opt/gracekeeper/...) mapped into the emulated tree. */
const mapped = (command: string[]) => command.map((w) => (w.startsWith('/') ? image.path(w) : w));

describe('deploy/Dockerfile, emulated', () => {
  it('holds production dependencies only, and the compiled programs', () => {
    const pkg = JSON.parse(repoFile('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const modules = join(image.path('/opt/gracekeeper'), 'node_modules');
    for (const dependency of Object.keys(pkg.dependencies)) expect({ dependency, installed: existsSync(join(modules, dependency)) }).toEqual({ dependency, installed: true });
    const dev = Object.keys(pkg.devDependencies).filter((d) => existsSync(join(modules, d)));
    expect(dev).toEqual([]);
    expect(readdirSync(join(image.path('/opt/gracekeeper'), 'dist'))).toEqual(['apps', 'libs']);
    // The node-agent's peer-credential check: the compiled addon, and nothing else of native/.
    expect(readdirSync(join(image.path('/opt/gracekeeper'), 'native', 'peercred', 'build', 'Release'))).toEqual(['peercred.node']);
    expect(image.skipped.join('\n')).toMatch(/useradd/);
  });

  it('the entry point lists the programs', async () => {
    const r = await run(mapped(image.entrypoint)[0]!, [...mapped(image.entrypoint).slice(1), 'help'], { env: { PATH: process.env.PATH, ...image.env } });
    expect(r.code).toBe(0);
    for (const program of ['coordinator', 'registry', 'node-agent', 'gracectl', 'gk-cltrack']) expect(r.stdout).toContain(`  ${program} `);
  });

  it('a coordinator started by the entry point passes the image HEALTHCHECK', async () => {
    const secrets = mkdtempSync(join(workDir, 'secrets-'));
    writeFileSync(join(secrets, 'admin-token'), 'image-e2e-admin-token\n');
    // The image's environment; only the port differs, so that this machine's other tests can run.
    const env = { PATH: process.env.PATH, ...image.env, GK_ADMIN_PORT: String(await freePort()), GK_ADMIN_HOST: '127.0.0.1' };
    const [node, ...entry] = mapped(image.entrypoint);
    coordinator = spawn(node!, [...entry, 'coordinator'], {
      env: { ...env, NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix, GK_CLUSTER: 'image', GK_ADMIN_TOKEN_FILE: join(secrets, 'admin-token') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    coordinator.stdout!.on('data', (d) => { output += d; });
    coordinator.stderr!.on('data', (d) => { output += d; });
    const [check, ...checkArgs] = mapped(image.healthcheck);
    const end = Date.now() + 60_000;
    let last = await run(check!, checkArgs, { env });
    while (last.code !== 0 && Date.now() < end && coordinator.exitCode === null) {
      await new Promise((r) => setTimeout(r, 250));
      last = await run(check!, checkArgs, { env });
    }
    expect({ healthcheck: last, output }).toEqual({ healthcheck: { code: 0, stdout: '', stderr: '' }, output: expect.stringContaining('listening on port') });
  });
});
