import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The console's page is static (no inline script or style), so the policy can forbid everything
 * but this origin's own script, style and requests: a client owner that got into the page as
 * markup could still not run.
 */
export const CONSOLE_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/**
 * Where the page's files are: apps/grace-coordinator/web beside the sources, copied to
 * dist/apps/grace-coordinator/web by the build (scripts/copy-web-assets.js), so that this file's
 * compiled copy finds them at the same relative place.
 */
export const WEB_DIR = join(__dirname, '..', '..', 'web');

/**
 * The page's files, read once; only these names are ever served. Missing files (a compile with
 * tsc alone) are reported by `missing`: the console then answers 503 saying so, and the
 * coordinator itself runs on.
 */
export function loadConsoleAssets(dir = WEB_DIR): { assets: Map<string, { type: string; body: Buffer }>; missing?: string } {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const [name, type] of Object.entries(TYPES)) {
    const path = join(dir, name);
    if (!existsSync(path)) return { assets: new Map(), missing: `the console's ${name} is missing at ${path} (build with "npm run build", which copies apps/grace-coordinator/web)` };
    assets.set(name, { type, body: readFileSync(path) });
  }
  return { assets };
}
