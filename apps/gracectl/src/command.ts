import type { StreamNames } from '#contracts';
import type { GraceEventStore, OpenedStore } from '#cluster-store';
import type { OptionSpec, ParsedArgs } from './args';

/** A refused or failed operation: printed as `Failure: <reason>` on stderr, exit status 1. */
export class Failure extends Error {
  override readonly name = 'Failure';
  constructor(reason: string, readonly preamble?: string) {
    super(reason);
  }
}

/** What every gracectl command gets: the global options, output, and a lazily opened store. */
export interface CommandContext {
  natsUrl: string;
  cluster: string;
  prefix: string;
  names: StreamNames;
  /** Who the events say caused them: `gracectl:<user>`. */
  actor: string;
  /** Ties the events of one invocation together for audits. */
  causation: string;
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Connects on first use, so that usage errors never need NATS; closed by the runner. */
  store(): Promise<GraceEventStore>;
  /** The raw connection (for commands that need more than the event store). */
  opened(): Promise<OpenedStore>;
}

/**
 * One gracectl subcommand. To add one: write `commands/<name>.ts` exporting a `CommandSpec`, then
 * import it in `cli.ts` and append it to `COMMANDS` (its options are then parsed and listed in
 * the usage text automatically).
 */
export interface CommandSpec {
  name: string;
  /** Operands and options, for the usage text, e.g. `nodeid...`. */
  synopsis: string;
  /** One line for the usage text. */
  summary: string;
  /** Creates the event stream when it is missing (an explicit operator act: `init`, `add`). */
  createsStream?: boolean;
  /** Options only this command accepts (global ones are always accepted). */
  options?: OptionSpec[];
  /** Takes no operands (node ids): any is a usage error, checked before `run` (cli.ts). */
  noOperands?: true;
  /** Prints what it has to print; throws Failure (exit 1) or UsageError (exit 2). */
  run(ctx: CommandContext, args: ParsedArgs, operands: string[]): Promise<void>;
}
