/**
 * The benchmark report: one row per SPEC §5 target, the machine and versions it ran on, written
 * as `bench/results/<date>.json`, `latest.json` and `latest.md`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface BenchResult {
  name: string;
  /** null when the piece could not measure it (see `note`). */
  value: number | null;
  unit: string;
  target: number;
  /** How value compares with target when it is met: `<=` (latency, memory) or `>=` (rates). */
  comparison: '<=' | '>=';
  /** The figure of the thing we replace, measured in the same run when it runs here. */
  reference?: number;
  /** Where the reference comes from: `measured: …` or `documented: …`. */
  referenceSource?: string;
  met: boolean;
  /** Sizes, conditions, or why there is no value. */
  note?: string;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine skews figures. */
  loadAverage: number[];
}

export interface Versions {
  node: string;
  natsServer: string;
  postgresql: string;
  gracekeeper: string;
}

export interface BenchReport {
  date: string;
  mode: 'full' | 'quick';
  durationSeconds: number;
  machine: MachineInfo;
  versions: Versions;
  results: BenchResult[];
  notes: string[];
}

export function result(
  name: string,
  value: number | null,
  unit: string,
  comparison: '<=' | '>=',
  target: number,
  extra: { reference?: number; referenceSource?: string; note?: string } = {},
): BenchResult {
  const met = value !== null && Number.isFinite(value) && (comparison === '<=' ? value <= target : value >= target);
  const rounded = { ...extra, ...(extra.reference !== undefined ? { reference: round(extra.reference) } : {}) };
  return { name, value: value === null ? null : round(value), unit, target, comparison, ...definedOnly(rounded), met };
}

/** A row for a target whose piece failed: the figure is missing and the target is not met. */
export function failed(name: string, unit: string, comparison: '<=' | '>=', target: number, why: string, extra: { reference?: number; referenceSource?: string } = {}): BenchResult {
  return result(name, null, unit, comparison, target, { ...extra, note: why });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Three significant figures, at most 3 decimals: enough to compare, not noise. */
export function round(value: number): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  const digits = Math.max(0, Math.min(3, 2 - Math.floor(Math.log10(Math.abs(value)))));
  return Number(value.toFixed(digits));
}

/** The p-th percentile (0–100) by nearest rank; `sorted` must be ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    kernel: release(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? process.platform;
  } catch {
    return process.platform;
  }
}

/** Commit of the checkout, with `+dirty` when it has uncommitted changes. */
export function gracekeeperVersion(root: string): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(v);
}

export function markdownTable(report: BenchReport): string {
  const m = report.machine;
  const v = report.versions;
  const lines = [
    `Gracekeeper benchmark, ${report.date.slice(0, 10)}${report.mode === 'quick' ? ' (--quick: smaller sizes, same measurements)' : ''}`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}; load average ${m.loadAverage.join(' ')} at the start.`,
    `Versions: Node ${v.node}, nats-server ${v.natsServer}, PostgreSQL ${v.postgresql}, Gracekeeper ${v.gracekeeper}.`,
    '',
    '| measurement | value | target | reference | met |',
    '|---|---:|---:|---:|:---:|',
    ...report.results.map((r) => {
      const value = r.value === null ? '—' : `${formatNumber(r.value)} ${r.unit}`;
      const reference = r.reference === undefined ? '' : `${formatNumber(r.reference)} ${r.unit}${r.referenceSource ? ` (${r.referenceSource})` : ''}`;
      return `| ${r.name}${r.note ? ` — ${r.note}` : ''} | ${value} | ${r.comparison} ${formatNumber(r.target)} ${r.unit} | ${reference} | ${r.met ? 'yes' : '**no**'} |`;
    }),
  ];
  if (report.notes.length) lines.push('', ...report.notes.map((n) => `- ${n}`));
  lines.push('', `Run took ${Math.round(report.durationSeconds)} s.`);
  return lines.join('\n') + '\n';
}

/** Writes `<date>.json`, `<latest>.json` and `<latest>.md`; returns their paths. */
export function writeReport(report: BenchReport, dir: string, latestName = 'latest'): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = report.date.replace(/:/g, '-').replace(/\..*$/, '');
  const json = JSON.stringify(report, null, 2) + '\n';
  const dated = join(dir, `${stamp}${latestName === 'latest' ? '' : `-${latestName}`}${report.mode === 'quick' ? '-quick' : ''}.json`);
  const latest = join(dir, `${latestName}.json`);
  const md = join(dir, `${latestName}.md`);
  writeFileSync(dated, json);
  writeFileSync(latest, json);
  writeFileSync(md, markdownTable(report));
  return [dated, latest, md];
}
