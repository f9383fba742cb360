export * from './config';
export * from './decision';
export * from './events';
export * from './ids';
export * from './nats-url';
export * from './result';
export * from './statuses';
export * from './subjects';
