/**
 * `npm run console:screenshots`: the screenshots of the web console in docs/images/, taken in
 * headless Chromium while a small system of its own (own prefix, on the NATS and PostgreSQL that
 * #infra finds or starts) goes through one restart-and-reclaim cycle.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { randomToken } from '#infra';
import { cleanupStream } from '#testing';
import { streamNames } from '#contracts';
import { launchConsoleBrowser, RestartCycle, startConsoleSystem } from './console-driver';
import { ensureDatabase, ensureInfra, REPO_ROOT } from './system';

const OUT = join(REPO_ROOT, 'docs', 'images');
const CLUSTER = 'default';

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const log = (m: string) => process.stdout.write(`  · ${m}\n`);
  const infra = await ensureInfra(log);
  const prefix = `gk_shots_${randomToken(3)}`;
  const system = await startConsoleSystem({
    natsUrl: infra.natsUrl, databaseUrl: await ensureDatabase(infra.postgresUrl, 'gracekeeper'), prefix, cluster: CLUSTER,
    nodes: ['a', 'b', 'c'], runDir: join(REPO_ROOT, '.tmp', 'console-shots'), adminToken: randomToken(16), env: { GK_QUIET: '1' }, log,
  });
  const owners = (node: string) => [1, 2, 3, 4].map((i) => `Linux NFSv4.1 client-${node}${i}.example.com/10.0.0.${i}`);
  const cycle = await RestartCycle.connect(system, 'b', { a: owners('a'), b: owners('b'), c: owners('c') });
  const browser = await launchConsoleBrowser();
  const { page } = browser;
  const shot = async (name: string) => {
    await page.screenshot({ path: join(OUT, name) });
    log(`docs/images/${name}`);
  };
  const waitFor = (selector: string, pattern: RegExp) => page.waitForFunction(
    ([s, source]) => new RegExp(source).test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector(s)?.textContent ?? ''),
    [selector, pattern.source] as const, { timeout: 60_000 });
  try {
    await page.goto(`${system.service('coordinator')!.adminUrl}/console?cluster=${CLUSTER}`);
    await waitFor('#connection', /^live$/);
    await cycle.mount();
    await cycle.restart();
    const [first, second, ...rest] = cycle.reclaimers;
    await cycle.reclaim(first!);
    await cycle.reclaim(second!);
    await waitFor('#members tr[data-node="b"]', /2 of 4 reclaimed/);
    await shot('console-grace.png');
    for (const c of rest) await cycle.reclaim(c);
    await cycle.finish();
    await waitFor('#periods', /ended/);
    await shot('console-ended.png');
    await page.selectOption('#audit-by', 'owner');
    await page.fill('#audit-value', first!.owner);
    for (let i = 0; i < 30; i++) {
      await page.press('#audit-value', 'Enter');
      await waitFor('#audit-status', /event\(s\)|failed/);
      if (/GraceEnded/.test(await page.locator('#audit-results').textContent() ?? '')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.locator('#audit').scrollIntoViewIfNeeded();
    await shot('console-audit.png');
  } finally {
    cycle.close();
    await browser.close();
    await system.stop();
    const nc = await connect({ servers: infra.natsUrl });
    await cleanupStream(nc, streamNames(prefix)).catch(() => undefined);
    await nc.close();
    await infra.stop();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`console screenshots failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
