/**
 * GNU getopt_long as nfsdcltrack sees it (glibc): argv is permuted so options may follow the
 * command, short options cluster (-dfs DIR, -sDIR), long options may be abbreviated to any
 * unique prefix, "--" ends the options, and POSIXLY_CORRECT stops at the first operand.
 * Messages match glibc's, printed with the unmodified argv[0].
 */

export interface LongOption {
  name: string;
  hasArg: boolean;
  /** The short option it stands for. */
  val: string;
}

export type GetoptItem = { opt: string; arg?: string } | { opt: '?'; message: string };

export interface GetoptResult {
  /** Options in the order getopt returns them; parsing stops after the first '?'. */
  items: GetoptItem[];
  /** Non-option arguments in their original order (what argv[optind..] holds afterwards). */
  operands: string[];
}

export function getoptLong(argv0: string, args: readonly string[], shortopts: string, longopts: readonly LongOption[], posixlyCorrect: boolean): GetoptResult {
  const items: GetoptItem[] = [];
  const operands: string[] = [];
  const error = (message: string): GetoptResult => {
    items.push({ opt: '?', message: `${argv0}: ${message}\n` });
    return { items, operands };
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.length < 2 || a[0] !== '-') {
      if (posixlyCorrect) {
        operands.push(...args.slice(i));
        break;
      }
      operands.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const exact = longopts.find((o) => o.name === name);
      const matches = exact ? [exact] : longopts.filter((o) => o.name.startsWith(name));
      if (matches.length === 0) return error(`unrecognized option '${a}'`);
      if (matches.length > 1) return error(`option '--${name}' is ambiguous; possibilities:${matches.map((o) => ` '--${o.name}'`).join('')}`);
      const o = matches[0]!;
      if (!o.hasArg) {
        if (eq >= 0) return error(`option '--${o.name}' doesn't allow an argument`);
        items.push({ opt: o.val });
      } else if (eq >= 0) {
        items.push({ opt: o.val, arg: a.slice(eq + 1) });
      } else if (i + 1 < args.length) {
        items.push({ opt: o.val, arg: args[++i]! });
      } else {
        return error(`option '--${o.name}' requires an argument`);
      }
      continue;
    }
    // A cluster of short options; one that takes an argument consumes the rest of the word or the next one.
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const at = c === ':' ? -1 : shortopts.indexOf(c);
      if (at < 0) return error(`invalid option -- '${c}'`);
      if (shortopts[at + 1] !== ':') {
        items.push({ opt: c });
        continue;
      }
      if (j + 1 < a.length) items.push({ opt: c, arg: a.slice(j + 1) });
      else if (i + 1 < args.length) items.push({ opt: c, arg: args[++i]! });
      else return error(`option requires an argument -- '${c}'`);
      break;
    }
  }
  return { items, operands };
}
