import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { repoFile, ROOT } from './support';

// `npx gracectl …` works right after `npm ci`: npm runs the root package's `prepare` script on
// `npm ci` and `npm install`, and that script compiles what the bin shims load.
const pkg = JSON.parse(repoFile('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };

describe('install', () => {
  it('compiles on npm ci (prepare → the peer-credential addon, then build → tsc -p tsconfig.build.json and the console\'s web files)', () => {
    expect(pkg.scripts.prepare).toBe('npm run build:native && npm run build');
    expect(pkg.scripts['build:native']).toBe('node native/peercred/build.js');
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node scripts/copy-web-assets.js');
    const build = JSON.parse(repoFile('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(build.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
  });

  it.each(Object.entries(pkg.bin))('bin %s is executable and loads an app the build compiles', (name, file) => {
    accessSync(join(ROOT, file), constants.X_OK);
    const shim = repoFile(file);
    expect(shim.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const app = /'dist', 'apps', '([a-z-]+)', 'src', 'main\.js'/.exec(shim)?.[1];
    expect({ name, app: app && repoFile(`apps/${app}/src/main.ts`).length > 0 }).toEqual({ name, app: true });
  });
});
