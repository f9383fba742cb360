// Everything, NestJS included; plain.ts is the part without Nest.
export * from './plain';
export * from './auth';
export * from './bootstrap';
export * from './grace-store.module';
export * from './health';
export * from './metrics';
export * from './zod-pipe';
export * from './service-module';
export * from './nest-logger';
