import fc from 'fast-check';

/**
 * Input generators for the fuzz targets: byte-level mutations of a corpus of valid inputs (the
 * way a coverage-guided fuzzer starts from seeds), raw random bytes, and JSON values with the
 * shapes that break decoders (deep nesting, huge strings, prototype keys, odd numbers).
 */

type ByteMutation = (b: Uint8Array) => Uint8Array;

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]) => (b: Uint8Array) => {
    if (b.length === 0) return b;
    const out = Uint8Array.from(b);
    out[at % b.length] = v;
    return out;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => (b: Uint8Array) => {
    if (b.length === 0) return b;
    const out = Uint8Array.from(b);
    out[at % b.length]! ^= 1 << bit;
    return out;
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 16 })).map(([at, ins]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return concat([b.subarray(0, i), ins, b.subarray(i)]);
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 64 })).map(([at, n]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return concat([b.subarray(0, i), b.subarray(i + n)]);
  }),
  fc.nat().map((at) => (b: Uint8Array) => b.subarray(0, at % (b.length + 1))),
  fc.tuple(fc.nat(), fc.nat({ max: 64 }), fc.integer({ min: 2, max: 40 })).map(([at, n, times]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    const piece = b.subarray(i, i + n);
    return concat([b.subarray(0, i), ...Array.from({ length: times }, () => piece), b.subarray(i)]);
  }),
);

/** A corpus entry with up to `max` mutations applied, or raw random bytes now and then. */
export function mutatedBytes(corpus: Uint8Array[], max = 4): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...corpus), fc.array(byteMutation, { maxLength: max })).map(([seed, ms]) => ms.reduce((b, m) => m(b), seed)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
  );
}

/** Splits bytes into chunks at random points, as stream reads do. */
export function chunked(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array[]> {
  return fc.tuple(bytes, fc.array(fc.nat(), { maxLength: 6 })).map(([b, cuts]) => {
    const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
    const out: Uint8Array[] = [];
    let from = 0;
    for (const p of points) {
      out.push(b.subarray(from, p));
      from = p;
    }
    out.push(b.subarray(from));
    return out;
  });
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length)));
}

/** Nested `depth` deep: arrays or objects, as in the line that once killed the agent. */
export const deeplyNested = fc.tuple(fc.integer({ min: 50, max: 20_000 }), fc.boolean()).map(([depth, arrays]) =>
  JSON.parse(arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) as unknown);

/** JSON values that break decoders. */
export const nastyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deeplyNested },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 10, arbitrary: fc.constantFrom(0, -0, -1, 1.5, 2 ** 53, -(2 ** 53) - 2, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 5e-324, '', ' ', '\u0000', '\ud800', 'ab'.repeat(1025), true, false, null, [], {}) },
  { weight: 5, arbitrary: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'op', 'id'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) },
);

/**
 * A corpus value with up to `max` edits at random paths: a field replaced by a nasty value,
 * deleted, or added. Values are rebuilt, never shared with the corpus.
 */
export function mutatedJson(corpus: unknown[], max = 3): fc.Arbitrary<unknown> {
  const edit = fc.tuple(fc.nat(), fc.nat(), nastyJson, fc.constantFrom('replace', 'delete', 'add'));
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...corpus), fc.array(edit, { maxLength: max })).map(([seed, edits]) => {
      let value: unknown = structuredClone(seed);
      for (const [pick, key, nasty, kind] of edits) value = editAt(value, pick, key, nasty, kind);
      return value;
    }) },
    { weight: 1, arbitrary: nastyJson },
  );
}

function editAt(root: unknown, pick: number, key: number, nasty: unknown, kind: 'replace' | 'delete' | 'add'): unknown {
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 6 || v === null || typeof v !== 'object') return;
    containers.push(v as Record<string, unknown>);
    for (const child of Object.values(v)) walk(child, depth + 1);
  };
  walk(root, 0);
  if (containers.length === 0) return kind === 'delete' ? root : nasty;
  const target = containers[pick % containers.length]!;
  const keys = Object.keys(target);
  if (kind === 'add' || keys.length === 0) {
    if (Array.isArray(target)) target.push(nasty);
    else Object.defineProperty(target, ['__proto__', 'extra', 'op', 'id', 'type', 'v'][key % 6]!, { value: nasty, enumerable: true, writable: true, configurable: true });
    return root;
  }
  const k = keys[key % keys.length]!;
  if (kind === 'delete') {
    if (Array.isArray(target)) target.splice(Number(k), 1);
    else delete target[k];
  } else {
    (target as Record<string, unknown>)[k] = nasty;
  }
  return root;
}

/** JSON text of a fuzz value; one too deep for JSON.stringify becomes an unterminated deep array (still input). */
export function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return '['.repeat(100_000);
  }
}
