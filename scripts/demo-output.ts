/** The demo's terminal output: a timeline with elapsed times, colours on a terminal, progress bars. */

const tty = !!process.stdout.isTTY;
const colour = (code: number) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
export const dim = colour(2);
export const bold = colour(1);
export const green = colour(32);
export const red = colour(31);
export const cyan = colour(36);
export const yellow = colour(33);

let started = performance.now();
let progressShown = false;

/** The timeline starts with the story, not with the system's start-up. */
export function restartClock(): void {
  started = performance.now();
}

function at(): string {
  return dim(`+${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s`);
}

/** One line of the timeline. */
export function say(text: string): void {
  clearProgress();
  process.stdout.write(`${at()}  ${text}\n`);
}

/** A progress bar, redrawn in place on a terminal; elsewhere printed once when complete. */
export function progress(label: string, done: number, total: number): void {
  const width = 24;
  const filled = Math.round((done / total) * width);
  const line = `${at()}  ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
  if (tty) {
    process.stdout.write(`\r${line}\x1b[K`);
    progressShown = true;
  } else if (done === total) {
    process.stdout.write(`${line}\n`);
  }
}

export function clearProgress(): void {
  if (progressShown) process.stdout.write('\r\x1b[K');
  progressShown = false;
}

export function statusText(status: string): string {
  return status === 'OK' ? green(status) : red(status);
}
