import type { z } from 'zod';

/**
 * A fast "is this certainly valid?" predicate compiled from a zod schema at start-up, so the
 * schema stays the single source of the rules while reading the log does not pay zod's generic
 * parse (measured here: ~3 µs an event, more than JSON.parse itself).
 *
 * The predicate is one-sided: `true` means zod accepts the value and would return an equal one
 * (so the parsed JSON can be used as it is); `false` only means "ask zod", which then gives the
 * verdict and the error message. Any schema construct this compiler does not know compiles to
 * `false`, so a new kind of rule can slow reading down but never let a bad value through.
 * compiled-check.spec.ts checks both directions against zod on random values.
 */
export type Check = (value: unknown) => boolean;

const never: Check = () => false;

interface Def {
  type: string;
  [key: string]: unknown;
}
type Schema = { _zod: { def: Def } };

export function compileCheck(schema: z.ZodType): Check {
  return compile(schema as unknown as Schema);
}

function compile(schema: Schema): Check {
  const def = schema._zod.def;
  switch (def.type) {
    case 'string':
      return stringCheck(def);
    case 'number':
      return numberCheck(def);
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'unknown':
      return () => true;
    case 'literal': {
      const values = def.values as unknown[];
      return (v) => values.includes(v);
    }
    case 'enum': {
      const values = new Set(Object.values(def.entries as Record<string, unknown>));
      return (v) => values.has(v);
    }
    case 'optional': {
      const inner = compile(def.innerType as Schema);
      return (v) => v === undefined || inner(v);
    }
    case 'array':
      return arrayCheck(def);
    case 'object':
      return objectCheck(def);
    case 'union':
      return discriminatedCheck(def);
    default:
      return never;
  }
}

/** The checks zod keeps in `def.checks` (or, for string formats like z.iso.datetime, on the def itself). */
function checksOf(def: Def): Def[] {
  const own = def.check === 'string_format' ? [def] : [];
  const listed = ((def.checks as Schema[] | undefined) ?? []).map((c) => c._zod.def);
  return [...own, ...listed];
}

function stringCheck(def: Def): Check {
  const parts: Check[] = [(v) => typeof v === 'string'];
  for (const c of checksOf(def)) {
    if (c.check === 'min_length') parts.push((v) => (v as string).length >= (c.minimum as number));
    else if (c.check === 'max_length') parts.push((v) => (v as string).length <= (c.maximum as number));
    else if (c.check === 'string_format' && c.pattern instanceof RegExp && !c.pattern.global && !c.pattern.sticky) {
      const pattern = c.pattern;
      parts.push((v) => pattern.test(v as string));
    } else return never;
  }
  return all(parts);
}

function numberCheck(def: Def): Check {
  const parts: Check[] = [(v) => typeof v === 'number' && Number.isFinite(v)];
  for (const c of checksOf(def)) {
    if (c.check === 'number_format' && c.format === 'safeint') parts.push((v) => Number.isSafeInteger(v));
    else if (c.check === 'greater_than') parts.push(c.inclusive ? (v) => (v as number) >= (c.value as number) : (v) => (v as number) > (c.value as number));
    else if (c.check === 'less_than') parts.push(c.inclusive ? (v) => (v as number) <= (c.value as number) : (v) => (v as number) < (c.value as number));
    else return never;
  }
  return all(parts);
}

function arrayCheck(def: Def): Check {
  const element = compile(def.element as Schema);
  let min = 0;
  let max = Infinity;
  for (const c of checksOf(def)) {
    if (c.check === 'min_length') min = Math.max(min, c.minimum as number);
    else if (c.check === 'max_length') max = Math.min(max, c.maximum as number);
    else return never;
  }
  return (v) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return false;
    for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
    return true;
  };
}

/** Only strict objects (unknown keys refused) whose own data is plain: what JSON.parse gives. */
function objectCheck(def: Def): Check {
  if ((def.catchall as Schema | undefined)?._zod.def.type !== 'never' || def.checks) return never;
  const fields = Object.entries(def.shape as Record<string, Schema>).map(([key, s]) => [key, compile(s)] as const);
  const known = new Set(fields.map(([key]) => key));
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const key of Object.keys(v)) if (!known.has(key)) return false;
    for (const [key, check] of fields) if (!check(v[key])) return false;
    return true;
  };
}

function discriminatedCheck(def: Def): Check {
  const key = def.discriminator;
  if (typeof key !== 'string' || def.checks) return never;
  const byValue = new Map<unknown, Check>();
  for (const option of def.options as Schema[]) {
    const tag = (option._zod.def.shape as Record<string, Schema> | undefined)?.[key]?._zod.def;
    if (tag?.type !== 'literal') return never;
    const check = compile(option);
    for (const value of tag.values as unknown[]) {
      if (byValue.has(value)) return never;
      byValue.set(value, check);
    }
  }
  return (v) => isPlainObject(v) && (byValue.get(v[key]) ?? never)(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function all(parts: Check[]): Check {
  if (parts.length === 1) return parts[0]!;
  return (v) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i]!(v)) return false;
    return true;
  };
}
