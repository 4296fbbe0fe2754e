#!/usr/bin/env bash
# Host tools the Debian test servers need (tests/debian): debootstrap builds the tree,
# systemd-nspawn boots it, slirp4netns gives it a network namespace with outbound NAT and
# port forwards on 127.0.0.1; apt-cacher-ng is the .deb cache every test server's apt goes
# through (tests/debian/harness/apt-cache.ts); nft sets the per-server "mirror unreachable"
# switch inside a server's network namespace; qemu mode also needs QEMU and mkfs.ext4 (the tree
# becomes a disk image). Installed with apt-get when missing (as root); otherwise says exactly
# what is missing.
# Usage: host-deps.sh [qemu]
set -euo pipefail
declare -A need=(
  [debootstrap]=/usr/sbin/debootstrap
  [systemd-container]=/usr/bin/systemd-nspawn
  [slirp4netns]=/usr/bin/slirp4netns
  [util-linux]=/usr/bin/unshare
  [openssh-client]=/usr/bin/ssh-keygen
  [apt-cacher-ng]=/usr/sbin/apt-cacher-ng
  [nftables]=/usr/sbin/nft
  [curl]=/usr/bin/curl
)
if [ "${1:-}" = qemu ]; then
  need[qemu-system-x86]=/usr/bin/qemu-system-x86_64
  need[e2fsprogs]=/usr/sbin/mkfs.ext4
fi
check() {
  missing=()
  for pkg in "${!need[@]}"; do [ -x "${need[$pkg]}" ] || missing+=("$pkg"); done
}
check
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "The Debian server tests need root (mount, network namespaces, systemd-nspawn) and these Debian packages: ${missing[*]}." >&2
  echo "Run the tests as root, or install them first: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
# Test files start in parallel: one installs, the others wait and find everything there.
exec 9>/run/brokeforge-debian-host-deps.lock
flock -w 900 9
check
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing ${missing[*]} with apt-get (needed by tests/debian)…" >&2
export DEBIAN_FRONTEND=noninteractive
# apt-cacher-ng's package would start (and enable) a system-wide cache on 0.0.0.0:3142; the
# harness runs its own on 127.0.0.1 instead. A policy-rc.d that says "no" (101) keeps the
# package from starting anything for the length of this install, only when none exists.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" apt-cacher-ng "* ]]; then
  # ...and does not come back at the host's next boot.
  if command -v systemctl >/dev/null; then systemctl disable apt-cacher-ng.service >/dev/null 2>&1 || true; fi
  if command -v update-rc.d >/dev/null; then update-rc.d apt-cacher-ng disable >/dev/null 2>&1 || true; fi
fi
