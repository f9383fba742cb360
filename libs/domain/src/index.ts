export * from './commands';
export * from './deadline';
export * from './decide';
export { reclaimStatus } from './decide-node';
export * from './evolve';
export * from './queries';
export * from './seal';
export * from './state';
