/**
 * The parts of service-kit that load no NestJS (`#service-kit/plain`). Loading Nest takes seconds
 * on a slow host (tens under emulation): a daemon that needs Nest only for an optional REST port
 * (the node-agent) imports these, and `#service-kit` only when that port is on.
 */
export * from './config';
export * from './json-rpc';
export * from './lifecycle';
export * from './log-text';
export * from './logger';
export * from './peer-credentials';
export * from './process-guards';
export * from './secrets';
export * from './socket-access';
export * from './start-up';
export * from './stop-reason';
export * from './tokens';
export * from './unix-socket-server';
