import type { z } from 'zod';

/** Every problem zod found, as `path: message` (the path is `root` for the value itself). */
export function zodProblems(error: z.ZodError, root: string): string[] {
  return error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`);
}

/** `zodProblems` as one line, for replies that carry a single error text. */
export function zodProblemText(error: z.ZodError, root: string): string {
  return zodProblems(error, root).join('; ');
}
