export * from './types';
export * from './errors';
export * from './provision';
export * from './event-store';
export * from './jetstream-event-store';
export * from './in-memory-event-store';
export * from './subscription';
export * from './command-handler';
export { STALE_APPEND, TruncatedHistory, type LinkedSubjects } from './chain';
