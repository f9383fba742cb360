import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { natsServers } from '#contracts';

/**
 * How every Gracekeeper process connects to NATS: the one place that reads NATS credentials and
 * TLS settings (docs/security.md). Secrets come from files named by the environment, never from
 * argv (visible to every local user in /proc). At most one credential file:
 *
 * - `GK_NATS_CREDS_FILE`: a `.creds` file (user JWT and nkey seed, operator mode);
 * - `GK_NATS_NKEY_FILE`: an nkey seed (`SU…`), for `nkey:` users of the server configuration;
 * - `GK_NATS_USER_FILE`: the user name on the first line, the password on the second.
 *
 * TLS: `GK_NATS_CA_FILE` (the CA that signed the server), `GK_NATS_CERT_FILE` and
 * `GK_NATS_KEY_FILE` (a client certificate, when the server verifies clients). Any of them, or a
 * `tls://` URL, makes TLS mandatory: the client refuses a server that does not offer it.
 *
 * `GK_DEV_MODE=1` is development mode (npm start, tests, the simulator): no credentials needed on
 * a loopback NATS, and missing streams and clusters are created (see `developmentMode`).
 */
export const NATS_AUTH_VARIABLES = {
  creds: 'GK_NATS_CREDS_FILE',
  nkey: 'GK_NATS_NKEY_FILE',
  user: 'GK_NATS_USER_FILE',
  ca: 'GK_NATS_CA_FILE',
  cert: 'GK_NATS_CERT_FILE',
  key: 'GK_NATS_KEY_FILE',
} as const;

export const DEV_MODE_VARIABLE = 'GK_DEV_MODE';

type Environment = Record<string, string | undefined>;

/** A NATS setting that cannot be used; the message names the variable and the file. */
export class NatsAuthError extends Error {
  override readonly name = 'NatsAuthError';
}

/** What a process says about its NATS security at start (never a secret). */
export interface NatsSecurity {
  /** `creds`, `nkey`, `user <name>`, or `none`. */
  credentials: string;
  tls: boolean;
  /** True in development mode. */
  development: boolean;
}

/** True when `GK_DEV_MODE` is 1 (or true/yes): development mode, announced at start. */
export function developmentMode(environment: Environment = process.env): boolean {
  return /^(1|true|yes)$/i.test(environment[DEV_MODE_VARIABLE]?.trim() ?? '');
}

/**
 * The authentication and TLS part of the client's connection options, from the files the
 * environment names. Throws `NatsAuthError` for a file that cannot be read or a conflicting setup.
 */
export function natsSecurityOptions(url: string, environment: Environment = process.env): { options: Partial<ConnectionOptions>; security: NatsSecurity } {
  const v = NATS_AUTH_VARIABLES;
  const given = (name: string) => {
    const value = environment[name]?.trim();
    return value ? value : undefined;
  };
  const credentialFiles = [v.creds, v.nkey, v.user].filter((name) => given(name));
  if (credentialFiles.length > 1) throw new NatsAuthError(`set only one of ${credentialFiles.join(', ')}: a connection has one identity`);
  const options: Partial<ConnectionOptions> = {};
  let credentials = 'none';
  const credsFile = given(v.creds);
  const nkeyFile = given(v.nkey);
  const userFile = given(v.user);
  if (credsFile) {
    options.authenticator = credsAuthenticator(readSecret(v.creds, credsFile));
    credentials = 'creds';
  } else if (nkeyFile) {
    const seed = new TextDecoder().decode(readSecret(v.nkey, nkeyFile)).trim();
    if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new NatsAuthError(`${v.nkey} (${nkeyFile}) must hold a user nkey seed (SU…, 58 characters)`);
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
    credentials = 'nkey';
  } else if (userFile) {
    const [user, pass] = new TextDecoder().decode(readSecret(v.user, userFile)).split(/\r?\n/);
    if (!user?.trim() || !pass) throw new NatsAuthError(`${v.user} (${userFile}) must hold the user name on its first line and the password on its second`);
    options.authenticator = usernamePasswordAuthenticator(user.trim(), pass);
    credentials = `user ${user.trim()}`;
  }
  const tlsFiles = { caFile: given(v.ca), certFile: given(v.cert), keyFile: given(v.key) };
  if (Boolean(tlsFiles.certFile) !== Boolean(tlsFiles.keyFile)) throw new NatsAuthError(`${v.cert} and ${v.key} go together (a client certificate and its key)`);
  for (const [name, file] of [[v.ca, tlsFiles.caFile], [v.cert, tlsFiles.certFile], [v.key, tlsFiles.keyFile]] as const) {
    if (file) readSecret(name, file);
  }
  const tlsUrl = natsServers(url).some((s) => s.toLowerCase().startsWith('tls://'));
  const tls = tlsUrl || Object.values(tlsFiles).some(Boolean);
  // A non-null `tls` object makes the client require TLS; the files are read by the transport.
  if (tls) options.tls = Object.fromEntries(Object.entries(tlsFiles).filter(([, f]) => f));
  return { options, security: { credentials, tls, development: developmentMode(environment) } };
}

/** One line for the start-up log: how this process reaches NATS, and a warning when it is open. */
export function describeNatsSecurity(url: string, security: NatsSecurity): string {
  const how = `NATS ${url}: credentials ${security.credentials}, TLS ${security.tls ? 'required' : 'off'}`;
  if (security.development) {
    const remote = security.credentials === 'none' && !natsServers(url).every(isLoopback) ? ' WARNING: development mode is meant for a loopback NATS, and this one is not.' : '';
    return `${how}. DEVELOPMENT MODE (GK_DEV_MODE=1): streams and clusters are created on demand; never use it in production.${remote}`;
  }
  if (security.credentials === 'none') return `${how}. WARNING: no NATS credentials (docs/security.md): whoever reaches this server can forge decisions`;
  return how;
}

/** Connects with the process's NATS security settings; `options` add to them (reconnects, name, ...). */
export async function connectNats(url: string, environment: Environment = process.env, options: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const { options: security } = natsSecurityOptions(url, environment);
  return connect({ servers: natsServers(url), ...options, ...security });
}

function isLoopback(server: string): boolean {
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/^[^@]*@/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function readSecret(variable: string, file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new NatsAuthError(`${variable}: cannot read ${file}: ${(err as Error).message}`);
  }
}
