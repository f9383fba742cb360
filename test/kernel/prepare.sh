#!/usr/bin/env bash
# Before the kernel suite: installs from Debian what the guest needs when it is missing (like
# .ci/run installs nats-server) and builds dist/ (the guest runs the agent from the checkout).
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || missing+=(linux-image-amd64)
[ -x /usr/sbin/rpc.nfsd ] || missing+=(nfs-kernel-server)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root && { ldd /bin/busybox 2>&1 || true; } | grep -q 'not a dynamic' || missing+=(busybox-static)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "test:kernel: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update </dev/null >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}" </dev/null >&2
fi
npm run --silent build >&2
