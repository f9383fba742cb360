const NEWLINE = 0x0a;

export interface SplitResult {
  /** Complete lines, without their newline, decoded as UTF-8. */
  lines: string[];
  /** Lines dropped because they grew past the limit (each is answered with an error). */
  overflows: number;
}

/**
 * Cuts a byte stream into newline-terminated lines with a bound on line length, so one client
 * sending a huge line cannot make the agent buffer without limit. A line over the bound is
 * skipped up to its newline and counted once; the lines after it are read normally.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(readonly maxLineBytes: number) {}

  push(chunk: Buffer): SplitResult {
    const lines: string[] = [];
    let overflows = 0;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      if (this.skipping) {
        this.skipping = false;
      } else if (this.size + (nl - start) > this.maxLineBytes) {
        overflows++;
      } else {
        this.parts.push(chunk.subarray(start, nl));
        lines.push(Buffer.concat(this.parts).toString('utf8'));
      }
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    if (start < chunk.length && !this.skipping) {
      const rest = chunk.subarray(start);
      if (this.size + rest.length > this.maxLineBytes) {
        // Already too long: report it now and drop everything up to its newline.
        overflows++;
        this.skipping = true;
        this.parts = [];
        this.size = 0;
      } else {
        this.parts.push(Buffer.from(rest)); // a copy: the socket may reuse its buffer
        this.size += rest.length;
      }
    }
    return { lines, overflows };
  }
}
