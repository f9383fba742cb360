/**
 * Makes the NATS credentials of one Gracekeeper identity (docs/security.md), without nsc:
 *
 *   npm run nats:credentials -- password gk-agent-default /etc/gracekeeper/nats
 *     writes <dir>/gk-agent-default.user (user name, password; mode 0600) for GK_NATS_USER_FILE,
 *     and prints the variable nats-server's environment needs (deploy/nats/permissions.conf).
 *   npm run nats:credentials -- nkey gk-agent-default /etc/gracekeeper/nats
 *     writes <dir>/gk-agent-default.nk (the user nkey seed; mode 0600) for GK_NATS_NKEY_FILE, and
 *     prints the public key to put in permissions.conf as `nkey: U…` instead of user/password.
 *
 * Secrets go to files only, never to stdout or argv. An existing file is never overwritten.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';

const USAGE = 'usage: nats-credentials password|nkey <identity> <directory>\n';

function main(argv: string[]): number {
  const [kind, identity, dir] = argv;
  if (!kind || !identity || !dir || !['password', 'nkey'].includes(kind) || !/^[A-Za-z0-9_-]{1,64}$/.test(identity)) {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    if (kind === 'password') {
      const password = randomBytes(24).toString('base64url');
      const file = join(dir, `${identity}.user`);
      writeFileSync(file, `${identity}\n${password}\n`, { mode: 0o600, flag: 'wx' });
      const variable = `GK_NATS_${identity.replace(/^gk-/, '').replace(/-/g, '_').toUpperCase()}_PASSWORD`;
      process.stdout.write(`wrote ${file} (GK_NATS_USER_FILE of ${identity})\n`);
      process.stdout.write(`nats-server needs ${variable} set to the password on that file's second line\n`);
    } else {
      const user = createUser();
      const file = join(dir, `${identity}.nk`);
      writeFileSync(file, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600, flag: 'wx' });
      process.stdout.write(`wrote ${file} (GK_NATS_NKEY_FILE of ${identity})\n`);
      process.stdout.write(`in deploy/nats/permissions.conf, give ${identity}: nkey: ${user.getPublicKey()}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`nats-credentials: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
