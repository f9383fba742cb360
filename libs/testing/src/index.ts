// Test helpers: imported by tests, the simulator and the benchmarks, never by production code.
export * from './agent';
export * from './build';
export * from './env';
export * from './fake-agent';
export * from './native-cltrack';
export * from './nfsdcltrack';
export * from './workload';
export * from './wait';
export * from './in-memory-cluster';
export * from './log-records';
export * from './test-stream';
