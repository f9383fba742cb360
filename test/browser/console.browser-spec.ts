/**
 * The web console end to end, in Debian's headless Chromium (playwright-core): a real small
 * cluster (NATS JetStream, PostgreSQL, coordinator, registry and two node-agents as processes)
 * goes through a restart-and-reclaim cycle while the page is open, and the page shows it live;
 * the audit search finds a client by its owner text; a hostile owner is shown as text; the
 * search is reachable with the keyboard alone.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { distMain, ensureBuilt, ROOT, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';
import type * as Driver from '../../scripts/console-driver';
import type { System } from '../../scripts/system';

// What the functions passed to page.evaluate use, in the page (this project compiles without the DOM library).
interface PageElement { id: string; className: string; textContent: string | null }
declare const document: { activeElement: PageElement | null; querySelector(s: string): PageElement | null; getElementById(id: string): PageElement | null; cookie: string };
declare const window: { __xss?: number };
declare const localStorage: { length: number };
declare const sessionStorage: { length: number };
declare function getComputedStyle(e: PageElement): { outlineStyle: string };

/**
 * Run in the page: every element with text of its own, its colour against the first opaque
 * background behind it (WCAG relative luminance); lists those under 4.5:1.
 */
const CONTRAST_CHECK = `(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (e) => {
    for (let n = e; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length || getComputedStyle(e).visibility === 'hidden') continue;
    const a = lum(rgb(getComputedStyle(e).color).slice(0, 3)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(e.tagName + '#' + e.id + '.' + e.className + ': ' + ratio.toFixed(2));
  }
  return bad;
})()`;

jest.setTimeout(240_000);
const TOKEN = 'console-browser-admin-token';
const names = testStreamNames('console');
const CLUSTER = 'console';
const OWNER = 'Linux NFSv4.1 console-test-client-b1';
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

let driver: typeof Driver;
let system: System;
let browser: Driver.ConsoleBrowser;
let cycle: Driver.RestartCycle;
let page: Page;
let base: string;
mkdirSync(join(ROOT, '.tmp'), { recursive: true });
const runDir = mkdtempSync(join(ROOT, '.tmp', 'console-browser-'));

beforeAll(async () => {
  await ensureBuilt(['grace-coordinator', 'client-registry', 'node-agent', 'gracectl'].map(distMain).concat(join(ROOT, 'dist', 'scripts', 'console-driver.js')));
  // The compiled driver: the system launcher finds its programs and helpers beside itself in dist/.
  driver = require(join(ROOT, 'dist', 'scripts', 'console-driver.js')) as typeof Driver;
  system = await driver.startConsoleSystem({
    natsUrl: testNatsUrl(), databaseUrl: testDatabaseUrl(), prefix: names.prefix, cluster: CLUSTER, nodes: ['a', 'b'],
    runDir, adminToken: TOKEN, env: { GK_QUIET: '1' }, readyTimeoutMs: 120_000,
  });
  base = system.service('coordinator')!.adminUrl;
  cycle = await driver.RestartCycle.connect(system, 'b', { a: ['Linux NFSv4.1 console-test-client-a1'], b: [OWNER, XSS] });
  browser = await driver.launchConsoleBrowser();
  page = browser.page;
}, 300_000);

afterAll(async () => {
  cycle?.close();
  await browser?.close();
  await system?.stop();
  rmSync(runDir, { recursive: true, force: true });
});

const text = (selector: string) => page.locator(selector).textContent({ timeout: 30_000 });
const until = (selector: string, pattern: RegExp) => page.waitForFunction(
  ([s, source]) => new RegExp(source).test(document.querySelector(s)?.textContent ?? ''), [selector, pattern.source] as const, { timeout: 60_000 });

describe('the console during a restart-and-reclaim cycle', () => {
  it('is served with a strict Content-Security-Policy and shows the cluster live', async () => {
    const response = await page.goto(`${base}/console?cluster=${CLUSTER}`);
    expect(response!.status()).toBe(200);
    const csp = response!.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    await until('#connection', /^live$/);
    await until('#members tbody', /a.*b/);
    expect(await text('#grace-state')).toBe('not in grace');
  });

  it('shows the grace period start, the reclaim progress and the end as they happen', async () => {
    await cycle.mount();
    await cycle.restart();
    await until('#grace-state', /in grace since/);
    await until('#recovering', /^b$/);
    await until('#periods', /Grace period R=\d+: in force/);
    await until('#members tr[data-node="b"]', /NEED.*0 of 2 reclaimed/);
    expect(await text('#countdown')).toMatch(/\d+ s left|none/);

    const [first, second] = cycle.reclaimers;
    await cycle.reclaim(first!);
    await until('#members tr[data-node="b"]', /1 of 2 reclaimed/);
    await cycle.reclaim(second!);
    await until('#members tr[data-node="b"]', /2 of 2 reclaimed/);
    await until('#periods', /reclaims accepted 2/);

    await cycle.finish();
    await until('#grace-state', /^not in grace$/);
    await until('#periods', /ended .* because every recovering node finished reclaiming/);
    expect(await page.locator('#periods li').first().getAttribute('class')).toBe('period-ended');
    await until('#last-end', /ended .* because every recovering node finished reclaiming/);
  });

  it('has text contrast of at least 4.5:1 everywhere, and fits a 1366×768 screen without horizontal scrolling', async () => {
    const lowContrast = await page.evaluate(CONTRAST_CHECK) as string[];
    expect(lowContrast).toEqual([]);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
  });
});

describe('the audit search', () => {
  async function search(by: string, value: string): Promise<void> {
    // The registry projects asynchronously: search again until it has the client's story.
    for (let attempt = 0; attempt < 30; attempt++) {
      await page.selectOption('#audit-by', by);
      await page.fill('#audit-value', value);
      await page.press('#audit-value', 'Enter');
      await page.waitForFunction(() => !/searching/.test(document.getElementById('audit-status')!.textContent ?? ''));
      if (/ReclaimAccepted/.test(await text('#audit-results') ?? '')) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`no audit of ${by} ${value}: ${await text('#audit-status')}`);
  }

  it('is reachable with the keyboard alone, with a visible focus', async () => {
    await page.goto(`${base}/console?cluster=${CLUSTER}`);
    await until('#connection', /^live$/);
    const focused = async () => page.evaluate(() => document.activeElement?.id || document.activeElement?.className || '');
    const reached: string[] = [];
    for (let i = 0; i < 20 && reached.at(-1) !== 'audit-value'; i++) {
      await page.keyboard.press('Tab');
      reached.push(await focused());
    }
    expect(reached[0]).toBe('skip');
    expect(reached).toContain('audit-value');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    // The skip link takes a keyboard user there in two keys.
    await page.keyboard.press('Shift+Tab');
    await page.goto(`${base}/console?cluster=${CLUSTER}`);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('audit-value');
    await page.keyboard.type(OWNER);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /event\(s\)|failed/.test(document.getElementById('audit-status')!.textContent ?? ''), undefined, { timeout: 60_000 });
  });

  it('finds a client by its owner text and shows its causal chain with the owner as text', async () => {
    await search('owner', OWNER);
    expect(await text('#audit-owner')).toBe(`Client owner: ${OWNER}`);
    const results = await text('#audit-results');
    expect(results).toContain(`client ${JSON.stringify(OWNER)} recorded on b`);
    expect(results).toContain('GraceStarted');
    expect(results).toMatch(/reclaim by client "Linux NFSv4\.1 console-test-client-b1" accepted on b/);
    expect(results).toContain('GraceEnded');
    expect(results).not.toContain(Buffer.from(OWNER).toString('hex'));
  });

  it('shows a hostile owner as text: no markup, no script', async () => {
    await search('owner', XSS);
    expect(await text('#audit-owner .owner')).toBe(XSS);
    expect(await text('#audit-results')).toContain(`client ${JSON.stringify(XSS)} recorded on b`);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    expect(await page.locator('#audit img, #audit script').count()).toBe(0);
  });

  it('searches by node and by epoch too', async () => {
    await search('node', 'b');
    expect(await text('#audit-results')).toMatch(/GraceStarted.*NeedLifted.*GraceEnded/s);
    await page.selectOption('#audit-by', 'epoch');
    await page.fill('#audit-value', 'not-a-number');
    await page.press('#audit-value', 'Enter');
    await until('#audit-status', /search failed: an epoch is a positive integer/);
  });
});

describe('admin actions', () => {
  it('need the token, typed into the page and sent as the bearer token, never stored', async () => {
    await page.selectOption('#admin-op', 'end');
    await page.click('#admin-form button[type=submit]');
    await until('#admin-status', /need the admin token/);
    await page.fill('#token', 'wrong-token');
    await page.click('#token-form button[type=submit]');
    await page.click('#admin-form button[type=submit]');
    await until('#admin-status', /end refused: .*bearer token/i);
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.click('#admin-form button[type=submit]');
    await until('#admin-status', /end refused: .*(no grace|not in grace)/i);
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);
  });
});
