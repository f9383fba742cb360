/** Where infra reports what it found or started. Callers decide whether that is noise. */
export type Log = (message: string) => void;

export const silent: Log = () => undefined;

/** A URL safe to print: the password, if any, replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
