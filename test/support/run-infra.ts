import type { ServiceHandle, TestDatabase } from '#infra';

/**
 * What global-setup started for this jest run, kept on globalThis because jest runs global-setup
 * and global-teardown in the same process but loads them as separate modules.
 */
export interface RunInfra {
  nats: ServiceHandle;
  postgres: ServiceHandle;
  database: TestDatabase;
}

const KEY = Symbol.for('gracekeeper.test.run-infra');

type Holder = { [KEY]?: RunInfra };

export function rememberRunInfra(infra: RunInfra): void {
  (globalThis as Holder)[KEY] = infra;
}

export function takeRunInfra(): RunInfra | undefined {
  const infra = (globalThis as Holder)[KEY];
  delete (globalThis as Holder)[KEY];
  return infra;
}
