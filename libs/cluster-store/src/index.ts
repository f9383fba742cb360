export * from './connect';
export * from './execute';
export * from './group-commit';
export * from './live-view';
export * from './one-shot';
export * from './view-supervisor';
export * from './durability';
