import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, ROOT, run } from './support';

// The cluster-manager scripts (deploy/cluster) are POSIX sh that pacemaker, CTDB and keepalived
// run as root: shellcheck must find nothing in them (as sh, following the shared library), and
// the ones a cluster manager runs must be executable. What they do is tested against a real
// cluster in cluster-manager.e2e-spec.ts.
const DIR = join(ROOT, 'deploy', 'cluster');
const SCRIPTS = ['gracekeeper-identity', '70.gracekeeper', 'gracekeeper-keepalived-notify'];

describe('deploy/cluster scripts', () => {
  it('shellcheck finds nothing in any of them (POSIX sh)', async () => {
    const files = readdirSync(DIR).filter((f) => SCRIPTS.includes(f) || f.endsWith('.sh')).map((f) => join('deploy', 'cluster', f));
    expect(files).toHaveLength(SCRIPTS.length + 1);
    const r = await run(requireTool('shellcheck', 'shellcheck'), ['-x', '-s', 'sh', '-S', 'style', ...files]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('the scripts a cluster manager runs are executable by everyone (ocf-tester checks 755)', () => {
    for (const f of SCRIPTS) expect((statSync(join(DIR, f)).mode & 0o777).toString(8)).toBe('755');
  });
});
