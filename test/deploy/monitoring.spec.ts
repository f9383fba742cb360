import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry } from '../../libs/service-kit/src/metrics';
import { registeredMetricNames, repoFile, requireTool, ROOT, run, yamlFile } from './support';

// Monitoring artifacts (deploy/prometheus, deploy/grafana): the alert rules pass promtool's
// checks and its unit tests, and the rules and the dashboard only use metrics the services
// really export (their registrations, and prom-client's defaults under our prefix).

const PROM_DIR = join(ROOT, 'deploy', 'prometheus');
const promtool = () => requireTool('promtool', 'prometheus');

interface Panel { id: number; type: string; title: string; gridPos?: object; targets?: Array<{ expr: string }>; datasource?: { uid: string } }
const dashboard = JSON.parse(repoFile('deploy/grafana/gracekeeper-dashboard.json')) as { uid: string; title: string; panels: Panel[]; templating: { list: Array<{ name: string }> } };
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const rules = yamlFile<{ groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }>('deploy/prometheus/gracekeeper-alerts.yml').groups.flatMap((g) => g.rules);

/** Every series name the services export, with the _bucket/_sum/_count series of histograms and summaries. */
async function exportedSeries(): Promise<Set<string>> {
  const names = registeredMetricNames();
  for (const m of await new MetricsRegistry().getMetricsAsJSON()) {
    names.add(m.name);
    if (['histogram', 'summary'].includes(String(m.type))) for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}
/** Metric names in a PromQL expression (ours all start with gk_; `up` is Prometheus's). */
const metricsIn = (expr: string) => [...new Set(expr.match(/\bgk_[a-z0-9_]+\b/g) ?? [])];

describe('deploy/prometheus', () => {
  it('alert rules pass promtool check rules', async () => {
    const r = await run(promtool(), ['check', 'rules', join(PROM_DIR, 'gracekeeper-alerts.yml')]);
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining(`SUCCESS: ${rules.length} rules found`) });
  });

  it('alert rules pass their unit tests (promtool test rules)', async () => {
    const r = await run(promtool(), ['test', 'rules', 'gracekeeper-alerts.test.yml'], { cwd: PROM_DIR });
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });

  it('the scrape configuration is valid and names the jobs the rules use', async () => {
    const r = await run(promtool(), ['check', 'config', 'prometheus.yml'], { cwd: PROM_DIR });
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining('is valid prometheus config') });
    const jobs = yamlFile<{ scrape_configs: Array<{ job_name: string }> }>('deploy/prometheus/prometheus.yml').scrape_configs.map((s) => s.job_name);
    for (const rule of rules) for (const job of rule.expr.match(/gracekeeper-[a-z-]+/g) ?? []) if (!job.endsWith('-')) expect(jobs).toContain(job);
  });

  it('promtool does reject a bad rule (control)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-rules-'));
    writeFileSync(join(dir, 'bad.yml'), 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum by (cluster (gk_grace_members)\n');
    expect((await run(promtool(), ['check', 'rules', join(dir, 'bad.yml')])).code).not.toBe(0);
  });

  it('covers the conditions operators must hear about', () => {
    const alerts = rules.map((r) => r.alert);
    for (const name of ['GracekeeperGraceStuckPastDeadline', 'GracekeeperRecoveryStalled', 'GracekeeperProjectionLagging', 'GracekeeperMalformedEvents', 'GracekeeperAgentAppendsFailing', 'GracekeeperTargetDown']) expect(alerts).toContain(name);
  });
});

describe('metric names', () => {
  it('alert rules use only metrics the services export', async () => {
    const exported = await exportedSeries();
    const unknown = rules.flatMap((r) => metricsIn(r.expr).filter((m) => !exported.has(m)).map((m) => `${r.alert}: ${m}`));
    expect(unknown).toEqual([]);
  });

  it('the dashboard uses only metrics the services export', async () => {
    const exported = await exportedSeries();
    const unknown = dashboardExprs.flatMap((e) => metricsIn(e).filter((m) => !exported.has(m)));
    expect(unknown).toEqual([]);
  });

  it('process metrics carry the prefix once (gk_process_*, gk_nodejs_*, never gk_process_process_*)', async () => {
    const names = [...(await exportedSeries())];
    expect(names).toContain('gk_process_cpu_seconds_total');
    expect(names).toContain('gk_nodejs_eventloop_lag_p99_seconds');
    expect(names.filter((n) => /^gk_process_(process|nodejs)_/.test(n))).toEqual([]);
    expect(names.filter((n) => !n.startsWith('gk_'))).toEqual([]);
  });
});

describe('deploy/grafana/gracekeeper-dashboard.json', () => {
  it('is a dashboard: uid, title, unique panel ids, every panel placed and querying the chosen data source', () => {
    expect(dashboard.uid).toBe('gracekeeper-overview');
    expect(dashboard.title).toBe('Gracekeeper');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'cluster']);
    for (const p of dashboard.panels) {
      expect(p.gridPos).toBeDefined();
      if (p.type === 'row') continue;
      expect({ panel: p.title, datasource: p.datasource?.uid, targets: (p.targets ?? []).length > 0 }).toEqual({ panel: p.title, datasource: '${datasource}', targets: true });
    }
  });

  it('every query is valid PromQL (checked by promtool as recording rules)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-dashboard-'));
    // Grafana's variables, replaced by what Grafana would put there.
    const promql = dashboardExprs.map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$cluster', '.*'));
    const file = ['groups:', '  - name: dashboard', '    rules:', ...promql.map((e, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(e)}`)].join('\n');
    writeFileSync(join(dir, 'dashboard-rules.yml'), `${file}\n`);
    const r = await run(promtool(), ['check', 'rules', join(dir, 'dashboard-rules.yml')]);
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining(`SUCCESS: ${promql.length} rules found`) });
  });
});
