/**
 * Jest loads the global setup and teardown outside its module registry, so jest.config.js's
 * moduleNameMapper (`#name` → libs/name/src/index.ts) does not apply there, and Node would take
 * package.json's `#name` to the compiled dist/ tree, which may not be built yet. Importing this
 * module first maps `#name` to the library's source for the rest of that process, as the
 * mapper does for tests (the same hook tsconfig-paths uses).
 */
import { existsSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';

const LIBS = join(__dirname, '..', '..', 'libs');
const LIB_IMPORT = /^#([a-z-]+)$/;

type Resolve = (request: string, parent: { filename?: string | null } | undefined, ...rest: unknown[]) => string;
const moduleInternals = Module as unknown as { _resolveFilename: Resolve };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request, parent, ...rest) {
  const lib = LIB_IMPORT.exec(request);
  // Only this project's own imports: packages in node_modules have `#name` imports of their own.
  const ours = lib && !parent?.filename?.includes('/node_modules/') && existsSync(join(LIBS, lib[1]!, 'src', 'index.ts'));
  return resolve.call(this, ours ? join(LIBS, lib[1]!, 'src', 'index.ts') : request, parent, ...rest);
};
