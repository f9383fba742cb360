/**
 * Boots Debian's kernel under qemu (TCG: KVM guests hang on these machines) with the host's root
 * shared read-only over 9p, and runs test/kernel/guest/run.sh inside: no disk image, no network.
 * The guest reports by console markers (see guest/lib.sh); everything it prints is kept.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..');
const WORK = join(REPO, '.tmp', 'kernel');

/** insmod order for a 9p root with an overlay on top (each needs the ones before it). */
const BOOT_MODULES = [
  'drivers/virtio/virtio_ring', 'drivers/virtio/virtio', 'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev', 'drivers/virtio/virtio_pci', 'fs/netfs/netfs', 'fs/fscache/fscache',
  'net/9p/9pnet', 'net/9p/9pnet_virtio', 'fs/9p/9p', 'fs/overlayfs/overlay',
];

export interface Kernel {
  version: string;
  image: string;
}

/** The newest Debian kernel in /boot whose modules are installed. */
export function findKernel(): Kernel {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join('/lib/modules', v, 'kernel')))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const version = versions.at(-1);
  if (!version) throw new Error('no kernel in /boot with modules in /lib/modules (apt-get install linux-image-amd64)');
  return { version, image: join('/boot', `vmlinuz-${version}`) };
}

/** A busybox initramfs that mounts the host's root and switch_roots into the guest script. */
export function buildInitramfs(kernel: Kernel): string {
  const out = join(WORK, `initramfs-${kernel.version}.cpio.gz`);
  const init = join(__dirname, 'guest', 'init');
  if (existsSync(out) && statSync(out).mtimeMs > statSync(init).mtimeMs) return out;
  const root = join(WORK, 'initramfs');
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev', 'modules']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  copyFileSync(init, join(root, 'init'));
  chmodSync(join(root, 'init'), 0o755);
  const names: string[] = [];
  for (const m of BOOT_MODULES) {
    const from = ['.ko', '.ko.xz', '.ko.zst'].map((ext) => join('/lib/modules', kernel.version, 'kernel', m + ext)).find(existsSync);
    if (!from) throw new Error(`module ${m} not found for ${kernel.version}`);
    const name = m.split('/').at(-1)!;
    const to = join(root, 'modules', `${name}.ko`);
    if (from.endsWith('.ko')) copyFileSync(from, to);
    else writeFileSync(to, execFileSync(from.endsWith('.xz') ? 'xz' : 'zstd', ['-dc', from], { maxBuffer: 64 << 20 }));
    names.push(name);
  }
  writeFileSync(join(root, 'modules', 'order'), `${names.join('\n')}\n`);
  execFileSync('sh', ['-c', `cd "${root}" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "${out}"`]);
  return out;
}

export interface GuestRun {
  lines: string[];
  exitCode: number | null;
  timedOut: boolean;
  ms: number;
}

/**
 * One boot: the guest runs `scenarios` (names of guest/scenarios/*.sh) in order and powers off.
 * `onLine` sees each console line as it arrives (progress for a human watching).
 */
export function bootGuest(opts: { scenarios: string[]; timeoutMs: number; onLine?: (line: string) => void }): Promise<GuestRun> {
  const kernel = findKernel();
  const initrd = buildInitramfs(kernel);
  const stage2 = join(__dirname, 'guest', 'run.sh');
  // Kernel parameters with "=" and no dot reach init as environment variables.
  const append = [
    'console=ttyS0', 'loglevel=4', 'panic=-1', 'rdinit=/init',
    `gk_stage2=${stage2}`, `gk_scenarios=${opts.scenarios.join(',')}`, `gk_repo=${REPO}`,
  ].join(' ');
  const args = [
    '-accel', 'tcg', '-cpu', 'max', '-smp', '2', '-m', '3072',
    '-kernel', kernel.image, '-initrd', initrd, '-append', append,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-nic', 'none', '-nographic', '-no-reboot',
  ];
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    let timedOut = false;
    const take = (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split(/\r?\n/);
      partial = parts.pop()!;
      for (const raw of parts) {
        const line = raw.replace(/\r/g, '');
        lines.push(line);
        opts.onLine?.(line);
      }
    };
    qemu.stdout.on('data', take);
    qemu.stderr.on('data', take);
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, opts.timeoutMs);
    qemu.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    qemu.on('close', (code) => {
      clearTimeout(timer);
      if (partial) lines.push(partial);
      resolvePromise({ lines, exitCode: code, timedOut, ms: Date.now() - started });
    });
  });
}

/** Per scenario: passed or not, its seconds, and every console line printed while it ran. */
export interface ScenarioResult {
  name: string;
  passed: boolean;
  seconds?: number;
  lines: string[];
}

/** Reads the markers of guest/lib.sh: GK-BEGIN name, GK-CHECK…, GK-END name PASS|FAIL seconds. */
export function scenarioResults(lines: string[]): Map<string, ScenarioResult> {
  const results = new Map<string, ScenarioResult>();
  let current: ScenarioResult | undefined;
  for (const line of lines) {
    const begin = /GK-BEGIN (\S+)/.exec(line);
    if (begin) {
      current = { name: begin[1]!, passed: false, lines: [] };
      results.set(current.name, current);
      continue;
    }
    current?.lines.push(line);
    const end = /GK-END (\S+) (PASS|FAIL) (\d+)/.exec(line);
    if (end && current && end[1] === current.name) {
      current.passed = end[2] === 'PASS';
      current.seconds = Number(end[3]);
      current = undefined;
    }
  }
  return results;
}
