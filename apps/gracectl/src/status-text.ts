import type { GraceSummary } from '#domain';

/**
 * `gracectl status`: the cluster's state for a person. `now` only feeds the "ago" / "in" hints;
 * every instant shown comes from the events.
 */
export function statusText(s: GraceSummary, now: number): string {
  const lines: string[] = [];
  lines.push(`cluster:        ${s.cluster ?? '(unnamed)'}`);
  lines.push(`epochs:         current ${s.epoch}, recovery ${s.recoveryEpoch}${s.inGrace ? ' (grace in force)' : ' (no grace in force)'}`);
  if (s.inGrace) {
    if (s.graceStartedAt) lines.push(`grace started:  ${s.graceStartedAt} (${relative(Date.parse(s.graceStartedAt) - now)})`);
    if (s.deadline) lines.push(`deadline:       ${s.deadline} (${relative(Date.parse(s.deadline) - now)}, policy ${s.config.deadlinePolicy})`);
    lines.push(`reclaims:       ${s.reclaimsAccepted ?? 0} accepted so far`);
    lines.push(`needing grace:  ${s.needing.length > 0 ? s.needing.join(', ') : 'none'}`);
  } else {
    lines.push(`non-reclaim:    ${s.nonReclaimGranted ? 'granted in this epoch' : 'not granted yet in this epoch'}`);
  }
  lines.push(`members:        ${s.members.length}`);
  for (const m of s.members) {
    const flags = [m.need ? 'NEED' : '', m.enforcing ? 'ENFORCING' : ''].filter(Boolean).join(', ');
    lines.push(`  ${m.node}\t${m.need ? 'N' : ' '}${m.enforcing ? 'E' : ' '}  ${flags || '-'}`);
  }
  const away = (s.placements ?? []).filter((p) => p.host !== p.node);
  if (away.length > 0) {
    lines.push(`placements:     ${away.length} identit${away.length === 1 ? 'y' : 'ies'} not on its own-name host`);
    for (const p of away) lines.push(`  ${p.node}\ton host ${p.host} (placement generation ${p.generation})`);
  }
  const silent = s.silent ?? [];
  if (silent.length > 0) {
    lines.push(`silent:         ${silent.length} identit${silent.length === 1 ? 'y whose host sends' : 'ies whose hosts send'} no heartbeat`);
    for (const x of silent) lines.push(`  ${x.node}\thost ${x.host}, silent for ${relative(Date.parse(x.since) - now).replace(/ ago$/, '')} (since ${x.since})`);
  }
  const c = s.config;
  lines.push(`config:         grace time ${seconds(c.graceTimeMs)}, lease time ${seconds(c.leaseTimeMs)}, deadline policy ${c.deadlinePolicy}, exit policy ${c.exitPolicy}`);
  if (c.liveness) {
    lines.push(`liveness:       dead after ${seconds(c.liveness.deadAfterMs)} without a heartbeat, policy ${c.liveness.policy}${c.liveness.standby ? `, standby ${c.liveness.standby}` : ''}`);
  }
  if (s.lastGraceEnd) {
    const e = s.lastGraceEnd;
    const abandoned = e.abandonedNodes.length > 0 ? `, abandoned ${e.abandonedNodes.join(', ')}` : '';
    lines.push(`last grace end: recovery epoch ${e.recoveryEpoch}, ${e.reason}, at ${e.at} (${relative(Date.parse(e.at) - now)})${abandoned}`);
  }
  return lines.join('\n') + '\n';
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

function relative(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const text = abs < 1000 ? `${Math.round(abs)} ms` : abs < 120_000 ? `${(abs / 1000).toFixed(1)} s` : abs < 7_200_000 ? `${(abs / 60_000).toFixed(1)} min` : `${(abs / 3_600_000).toFixed(1)} h`;
  return deltaMs >= 0 ? `in ${text}` : `${text} ago`;
}
