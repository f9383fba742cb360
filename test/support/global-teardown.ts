import './lib-imports';
import { dropDatabase } from '#infra';
import { takeRunInfra } from './run-infra';

/** Drops this run's database and stops only what global-setup started; shared servers stay up. */
export default async function globalTeardown(): Promise<void> {
  const infra = takeRunInfra();
  if (!infra) return;
  try {
    await dropDatabase(infra.postgres.url, infra.database.name);
  } finally {
    await Promise.all([infra.postgres.stop(), infra.nats.stop()]);
  }
}
