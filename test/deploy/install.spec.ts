import { spawnSync } from 'node:child_process';
import { accessSync, constants, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoFile, ROOT } from './support';

// `npx gracectl …` works right after `npm ci`: npm runs the root package's `prepare` script on
// `npm ci` and `npm install`, and that script compiles what the bin shims load.
const pkg = JSON.parse(repoFile('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };

describe('install', () => {
  it('compiles on npm ci (prepare → the peer-credential addon, then build → tsc -p tsconfig.build.json and the console\'s web files)', () => {
    expect(pkg.scripts.prepare).toBe('npm run build:native && npm run build');
    expect(pkg.scripts['build:native']).toBe('node native/peercred/build.js && node native/gk-cltrack/build.js');
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node scripts/copy-web-assets.js');
    const build = JSON.parse(repoFile('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(build.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
  });

  it.each(Object.entries(pkg.bin).filter(([, file]) => file.endsWith('.js')))('bin %s is executable and loads an app the build compiles', (name, file) => {
    accessSync(join(ROOT, file), constants.X_OK);
    const shim = repoFile(file);
    expect(shim.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const app = /'dist', 'apps', '([a-z-]+)', 'src', 'main\.js'/.exec(shim)?.[1];
    expect({ name, app: app && repoFile(`apps/${app}/src/main.ts`).length > 0 }).toEqual({ name, app: true });
  });

  describe('bin gk-cltrack (native/gk-cltrack/build.js)', () => {
    const ELF = Buffer.from('\x7fELF', 'latin1');
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'gk-install-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const build = (env: Record<string, string> = {}) => spawnSync(process.execPath, [join(ROOT, 'native', 'gk-cltrack', 'build.js'), dir], { env: { ...process.env, ...env }, encoding: 'utf8' });

    it('is what npm ci installed: the compiled program, or the link to the Node one', () => {
      expect(pkg.bin['gk-cltrack']).toBe('bin/gk-cltrack');
      const file = join(ROOT, 'bin', 'gk-cltrack');
      accessSync(file, constants.X_OK);
      if (lstatSync(file).isSymbolicLink()) expect(readlinkSync(file)).toBe('gk-cltrack.js');
      else expect(readFileSync(file).subarray(0, 4)).toEqual(ELF);
    });

    it('installs the compiled program when the C compiler works', () => {
      const r = build();
      expect(r.stderr).toBe('');
      expect(readFileSync(join(dir, 'gk-cltrack')).subarray(0, 4)).toEqual(ELF);
      const help = spawnSync(join(dir, 'gk-cltrack'), ['-h'], { encoding: 'utf8', env: {} });
      expect(help.status).toBe(1);
      expect(help.stdout).toMatch(/^Usage: gk-cltrack \[ -hfd \] \[ -s dir \] < cmd > < arg >\n/);
    });

    it('falls back to the Node one, with a warning, when it cannot compile', () => {
      const r = build({ CC: '/nonexistent/cc' });
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('the compiled gk-cltrack (native/gk-cltrack) was not built');
      expect(readlinkSync(join(dir, 'gk-cltrack'))).toBe('gk-cltrack.js');
    });
  });
});
