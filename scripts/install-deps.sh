#!/usr/bin/env bash
# Installs what the appliance runs: npm packages, and ffmpeg + nginx with the RTMP module from
# Debian. With --test, also what the tests drive: sshd, nfs-ganesha with rpcbind, libnfs' nfs-ls,
# Ansible, iproute2 (test hosts are network namespaces), sshfs (a real network mount for the
# storage outage tests) and Chromium (the dashboard). Safe to run again: it only installs
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=0
[ "${1:-}" = "--test" ] && TEST=1

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
# The tests also use pgrep/pkill and chattr.
command -v pgrep >/dev/null 2>&1 || need+=(procps)
command -v chattr >/dev/null 2>&1 || need+=(e2fsprogs)
if [ "$TEST" -eq 1 ]; then
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
  command -v ganesha.nfsd >/dev/null 2>&1 || need+=(nfs-ganesha)
  [ -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so ] || dpkg-query -W nfs-ganesha-vfs >/dev/null 2>&1 || need+=(nfs-ganesha-vfs)
  command -v rpcbind >/dev/null 2>&1 || [ -x /usr/sbin/rpcbind ] || need+=(rpcbind)
  command -v nfs-ls >/dev/null 2>&1 || need+=(libnfs-utils)
  command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible-core)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v sshfs >/dev/null 2>&1 || need+=(sshfs)
fi

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${need[*]}" >&2
    echo "install-deps: run as root, or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The packages' own services (sshd on :22, a system nginx, ganesha) are not wanted: the appliance
  # and the tests start their own instances. policy-rc.d stops the install from starting them.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Debian package starts a system nginx on port 80; the appliance runs its own instance.
if [ "$(id -u)" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
