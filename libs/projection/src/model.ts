/**
 * The projection model, in three parts: the model itself (projection-model.ts), what changed
 * since the last write (change-set.ts), and how stored messages are routed into it (routing.ts),
 * each cluster event being projected by cluster-events.ts.
 */
export * from './projection-model';
export * from './change-set';
export * from './routing';
