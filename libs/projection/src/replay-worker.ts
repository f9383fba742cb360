/**
 * A worker thread for rebuilds: reads the stream with its own NATS connection, decodes and
 * validates every message (the contracts' codec, as on every read), renders the audit rows that
 * need no state, and hands both to the main thread, which applies the messages to the model. On a
 * machine with more than one core this takes decoding (the costliest part of a replay) off the
 * main thread. Started by rebuild.ts, only from compiled JavaScript.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openGraceStore } from '#cluster-store';
import type { DecisionMessage, StreamNames } from '#contracts';
import type { MalformedMessage, StoredMessage } from '#event-store';
import { parseSubject } from './model';
import { auditLine, renderedByModel } from './rows';
import { projectedSubjects } from './stream';

export interface ReplayWorkerInput {
  natsUrl: string;
  names: StreamNames;
  target: number;
  batchMessages: number;
  maxBatchesInFlight: number;
}

export type ReplayItem = { m: StoredMessage<DecisionMessage> } | { x: MalformedMessage };

export type ReplayWorkerMessage =
  | { kind: 'batch'; items: ReplayItem[]; lines: string[] }
  | { kind: 'done' }
  | { kind: 'error'; message: string };

async function main(input: ReplayWorkerInput): Promise<void> {
  const port = parentPort!;
  const opened = await openGraceStore({ natsUrl: input.natsUrl, names: input.names, name: 'gk-replay-reader', provision: false, onMalformed: () => undefined });
  let items: ReplayItem[] = [];
  let lines: string[] = [];
  let inFlight = 0;
  let credit: (() => void) | undefined;
  port.on('message', (msg) => {
    if (msg === 'ack') {
      inFlight -= 1;
      credit?.();
      credit = undefined;
    }
  });
  const post = async () => {
    if (items.length === 0) return;
    port.postMessage({ kind: 'batch', items, lines } satisfies ReplayWorkerMessage);
    items = [];
    lines = [];
    inFlight += 1;
    while (inFlight > input.maxBatchesInFlight) await new Promise<void>((resolve) => { credit = resolve; });
  };
  let finished!: () => void;
  const done = new Promise<void>((resolve) => { finished = resolve; });
  const sub = await opened.store.subscribe(projectedSubjects(input.names), { fromSequence: 1 }, async (stored) => {
    if (stored.sequence > input.target) return;
    items.push({ m: stored });
    const where = parseSubject(input.names, stored.subject);
    if (where) {
      stored.message.events.forEach((event, idx) => {
        if (renderedByModel(where.kind, event.type)) return;
        lines.push(auditLine({ sequence: stored.sequence, idx, event, messageId: stored.message.id, subject: stored.subject, cluster: where.cluster }));
      });
    }
    if (stored.sequence >= input.target) {
      await post();
      finished();
    } else if (items.length >= input.batchMessages) {
      await post();
    }
  }, {
    onMalformed: (m) => {
      if (m.sequence > input.target) return;
      items.push({ x: m });
      if (m.sequence >= input.target) void post().then(finished);
    },
  });
  const ended = sub.done.then((end) => {
    if (end.reason !== 'stopped') throw new Error(`stream read stopped at sequence ${end.lastSequence}: ${end.reason}${'error' in end ? `: ${String(end.error)}` : ''}`);
  });
  try {
    await Promise.race([done, ended]);
  } finally {
    await sub.stop();
    await opened.close();
  }
  port.postMessage({ kind: 'done' } satisfies ReplayWorkerMessage);
}

if (parentPort) {
  main(workerData as ReplayWorkerInput).catch((err: unknown) => {
    parentPort!.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies ReplayWorkerMessage);
  });
}
