export * from './log';
export * from './names';
export { freePort, canConnect, sleep } from './ports';
export * from './nats';
export * from './postgres';
export { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
