export * from './types';
export * from './errors';
export * from './provision';
export * from './event-store';
export * from './decide-and-append';
export { STALE_APPEND } from './chain';
