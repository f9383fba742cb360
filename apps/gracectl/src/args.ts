/**
 * Command-line parsing for gracectl, GNU style like ganesha-rados-grace's getopt_long: options
 * may come before or after the command and the node ids, `--opt value` and `--opt=value` both
 * work, and `--` ends the options (for a node id that starts with a dash).
 */

export interface OptionSpec {
  /** Long name without the dashes, e.g. `cluster`. */
  name: string;
  /** Whether it takes a value. */
  value: boolean;
  /** For the usage text: what the value is, e.g. `ID`. */
  valueName?: string;
  description: string;
}

export interface ParsedArgs {
  /** The command and its operands, in order. */
  operands: string[];
  /** Options given, by long name; a flag without a value is `true`. The last one given wins. */
  options: Map<string, string | true>;
}

/** Wrong invocation: printed with the usage text, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[], known: readonly OptionSpec[]): ParsedArgs {
  const byName = new Map(known.map((o) => [o.name, o]));
  const operands: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      options.set('help', true);
      continue;
    }
    if (!arg.startsWith('--') || arg.length === 2) {
      if (arg.startsWith('-') && arg.length > 1) throw new UsageError(`unknown option ${arg}`);
      operands.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown option --${name}`);
    if (!spec.value) {
      if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
      options.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    if (value === undefined || value === '') throw new UsageError(`option --${name} needs a value (${spec.valueName ?? 'VALUE'})`);
    options.set(name, value);
  }
  return { operands, options };
}

/** Reads a duration in seconds (decimals allowed) as whole milliseconds. */
export function secondsOption(options: ParsedArgs['options'], name: string): number | undefined {
  const raw = options.get(name);
  if (raw === undefined) return undefined;
  const seconds = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  const ms = Math.round(seconds * 1000);
  if (!Number.isFinite(seconds) || ms < 1 || ms > 2 ** 31 - 1) throw new UsageError(`--${name} wants a positive number of seconds, got ${JSON.stringify(raw)}`);
  return ms;
}

/** Reads an option restricted to a few words. */
export function choiceOption<T extends string>(options: ParsedArgs['options'], name: string, choices: readonly T[]): T | undefined {
  const raw = options.get(name);
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}
