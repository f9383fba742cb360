import { ConsoleLogger } from '@nestjs/common';
import { escapeControlChars } from './control-chars';

/**
 * Nest's console logger with every message escaped (the services' logs carry ids read from the
 * stream and from requests). Stack traces are printed as Nest prints them: they come from our code.
 */
export class EscapingConsoleLogger extends ConsoleLogger {
  // Escaped before Nest colours it (its colours are escape sequences of its own). Objects are
  // printed by util.inspect, which already quotes and escapes the strings inside them.
  protected override resolveMessage(message: unknown): unknown {
    const resolved = super.resolveMessage(message);
    return typeof resolved === 'string' ? escapeControlChars(resolved) : resolved;
  }
}
