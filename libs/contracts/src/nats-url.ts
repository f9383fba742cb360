/**
 * Server URLs as the NATS client wants them; `NATS_URL` may list several, comma-separated.
 * Here rather than in infra so that light programs (gracectl) need not load infra's pg client.
 */
export function natsServers(url: string): string[] {
  return url.split(',').map((s) => s.trim()).filter(Boolean);
}
