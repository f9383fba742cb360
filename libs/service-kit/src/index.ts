export * from './auth';
export * from './bootstrap';
export * from './config';
export * from './grace-store.module';
export * from './health';
export * from './metrics';
export * from './tokens';
export * from './zod-pipe';
