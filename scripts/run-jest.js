// Shared by the long-run launchers (`npm run soak`, `npm run fuzz`): they are test suites run with
// bigger numbers, so they parse a few `--name value` options, turn them into the suites'
// environment variables and run jest on the suite, in band, with its exit status.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

/**
 * Parses `--name value` / `--name=value` for the given names (each mapped to its default, a string
 * or undefined). Unknown options and missing values print the usage and exit 2.
 */
function parseOptions(argv, defaults, usage) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const name = m?.[1];
    if (name === 'help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!m || !Object.hasOwn(defaults, name)) fail(`unknown argument ${JSON.stringify(argv[i])}`, usage);
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === '') fail(`--${name} needs a value`, usage);
    options[name] = value;
  }
  return options;
}

/** A whole number >= min, or the usage and exit 2. */
function wholeNumber(options, name, min, usage) {
  const v = options[name];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) fail(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(v)}`, usage);
  return Number(v);
}

function fail(message, usage) {
  process.stderr.write(`${message}\n${usage}`);
  process.exit(2);
}

/** Runs jest on `args` with `env` added; exits with jest's status. */
function runJest(args, env) {
  const jest = join(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
  const r = spawnSync(process.execPath, [jest, '--runInBand', ...args], { stdio: 'inherit', env: { ...process.env, ...env }, cwd: join(__dirname, '..') });
  process.exit(r.status ?? 1);
}

module.exports = { parseOptions, runJest, wholeNumber };
