import type { Client } from 'pg';

/**
 * `COPY ... FROM STDIN` on a pg Client without another dependency: pg routes the copy-in
 * protocol messages to the active query object, so a small "submittable" is all it takes.
 * COPY is what makes a replay fast: PostgreSQL parses its text format far quicker than the
 * parameters of a multi-row INSERT.
 */
class CopyInQuery {
  private settled = false;
  rowCount = 0;

  constructor(
    readonly text: string,
    private readonly data: Buffer,
    private readonly settle: (error: Error | undefined, rows: number) => void,
  ) {}

  submit(connection: PgConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: PgConnection): void {
    if (this.data.length > 0) connection.sendCopyFromChunk(this.data);
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /COPY (\d+)/.exec(msg.text ?? '');
    if (m) this.rowCount = Number(m[1]);
  }

  // pg drops the active query on an error and never tells it about the ReadyForQuery that
  // follows: the error itself must settle the copy.
  handleError(error: Error): void {
    this.finish(error);
  }

  handleReadyForQuery(): void {
    this.finish(undefined);
  }

  private finish(error: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(error, this.rowCount);
  }

  // The protocol messages a COPY FROM never gets; pg calls them only for row-returning queries.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** Copies `text` (PostgreSQL COPY text format, one line per row) into `table (columns)`. Returns the rows copied. */
export function copyIn(client: Client, table: string, columns: readonly string[], text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN`;
    const query = new CopyInQuery(sql, Buffer.from(text, 'utf8'), (error, rows) => (error ? reject(error) : resolve(rows)));
    // pg accepts any object with `submit` as a query; its types only know its own Submittable.
    (client as unknown as { query(q: unknown): unknown }).query(query);
  });
}

/** One value in COPY text format: `\N` for null, backslash, tab, newline and CR escaped. */
export function copyValue(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value !== 'string') return String(value);
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, escapeChar) : value;
}

/** A text[] value in COPY text format. Ids (hex clients, node ids) go unquoted; anything else is quoted. */
export function copyArray(values: readonly string[] | null | undefined): string {
  if (!values) return '\\N';
  let plain = true;
  for (const v of values) {
    if (!PLAIN_ELEMENT.test(v) || v.length === 4 && v.toLowerCase() === 'null') {
      plain = false;
      break;
    }
  }
  if (plain) return `{${values.join(',')}}`;
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`.replace(/[\\\t\n\r]/g, escapeChar);
}

/** Array elements that need no quotes in an array literal nor escapes in COPY. */
const PLAIN_ELEMENT = /^[A-Za-z0-9_.:-]+$/;

function escapeChar(c: string): string {
  switch (c) {
    case '\\': return '\\\\';
    case '\t': return '\\t';
    case '\n': return '\\n';
    default: return '\\r';
  }
}

/** Joins row values into COPY text lines. */
export class CopyBuffer {
  private readonly lines: string[] = [];
  get size(): number {
    return this.lines.length;
  }
  row(values: string[]): void {
    this.lines.push(values.join('\t'));
  }
  text(): string {
    return this.lines.length ? this.lines.join('\n') + '\n' : '';
  }
}
