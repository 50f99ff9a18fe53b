#!/usr/bin/env bash
# Installs what the appliance runs: npm packages, and ffmpeg + nginx with the RTMP module from
# Debian. With --test, also what the tests drive: sshd, nfs-ganesha with rpcbind, libnfs' nfs-ls,
# Ansible, iproute2 (test hosts are network namespaces), sshfs (a real network mount for the
# storage tests) and Chromium (the dashboard). With --lab, what `dvr lab` needs (iproute2, sshd,
# nfs-ganesha, sshfs, fonts for the publisher's clock); --test includes it. With --bench, what the
# benchmarks drive (wrk). --test also extracts promtool from Debian's prometheus package into
# .cache/promtool (the package is not installed: it would run a Prometheus server at every boot).
# Safe to run again: it installs only what is missing, and touches only what it installed.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=0 BENCH=0 LAB=0
for arg in "$@"; do
  case "$arg" in
    --test) TEST=1 LAB=1 ;;
    --lab) LAB=1 ;;
    --bench) BENCH=1 ;;
    -h|--help)
      echo "usage: scripts/install-deps.sh [--test] [--lab] [--bench]"
      echo "Installs the Debian packages and npm packages the appliance needs (--test: and the tests; --lab: and dvr lab; --bench: and the benchmarks)."
      exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "install-deps: $*"; }

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
# The tests also use pgrep/pkill and chattr.
command -v pgrep >/dev/null 2>&1 || need+=(procps)
command -v chattr >/dev/null 2>&1 || need+=(e2fsprogs)
if [ "$LAB" -eq 1 ]; then
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
  command -v ganesha.nfsd >/dev/null 2>&1 || need+=(nfs-ganesha)
  [ -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so ] || dpkg-query -W nfs-ganesha-vfs >/dev/null 2>&1 || need+=(nfs-ganesha-vfs)
  command -v rpcbind >/dev/null 2>&1 || [ -x /usr/sbin/rpcbind ] || need+=(rpcbind)
  command -v sshfs >/dev/null 2>&1 || need+=(sshfs)
  command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
  command -v fallocate >/dev/null 2>&1 || need+=(util-linux)
  # The publisher's burnt-in clock (ffmpeg's drawtext finds a font through fontconfig).
  fc-list 2>/dev/null | grep -q . || need+=(fonts-dejavu-core fontconfig)
fi
# The cluster's controllers share their state in PostgreSQL: the lab runs one, the tests start their own.
if [ "$LAB" -eq 1 ] || [ "$TEST" -eq 1 ]; then
  compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need+=(postgresql)
  command -v pg_dump >/dev/null 2>&1 || need+=(postgresql-client)
  command -v runuser >/dev/null 2>&1 || need+=(util-linux)
fi
if [ "$TEST" -eq 1 ]; then
  command -v nfs-ls >/dev/null 2>&1 || need+=(libnfs-utils)
  command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible-core)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # The provisioned agent's logs rotate with it.
  command -v logrotate >/dev/null 2>&1 || need+=(logrotate)
  # npm run lint checks the shell scripts.
  command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
fi
if [ "$BENCH" -eq 1 ]; then
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
fi
# Duplicates (ffmpeg for ffmpeg and ffprobe) once.
mapfile -t need < <(printf '%s\n' "${need[@]}" | awk 'NF && !seen[$0]++')

if [ "${#need[@]}" -eq 0 ]; then
  say "Debian packages: everything needed is installed"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${need[*]}" >&2
    echo "install-deps: run as root, or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  nginx_was_installed=0
  dpkg-query -W -f='${Status}' nginx-light nginx-core nginx 2>/dev/null | grep -q 'install ok installed' && nginx_was_installed=1
  say "installing ${need[*]} from Debian (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' own services (sshd on :22, a system nginx, ganesha, postgresql) are not wanted: the appliance
  # and the tests start their own instances. policy-rc.d stops the install from starting them.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # nginx installed just now comes with Debian's default site on port 80, enabled at boot. It is not
  # the appliance's (which runs its own instances), so it is switched off; an nginx that was here
  # before is the machine owner's and is left alone.
  if [ "$nginx_was_installed" -eq 0 ] && printf '%s\n' "${need[@]}" | grep -qx nginx-light \
    && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && systemctl is-enabled --quiet nginx 2>/dev/null; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
    say "disabled the nginx service that came with the package just installed (Debian's default site); the appliance runs its own nginx"
  fi
fi

if [ "$TEST" -eq 1 ] && ! command -v promtool >/dev/null 2>&1 && [ ! -x .cache/promtool/usr/bin/promtool ]; then
  say "promtool: extracting it from Debian's prometheus package into .cache/promtool (not installing the server)"
  mkdir -p .cache/promtool
  if ! (cd .cache/promtool && apt-get download prometheus >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] && apt-get update -qq
    (cd .cache/promtool && apt-get download prometheus >/dev/null) || { echo "install-deps: could not download Debian's prometheus package (for promtool)" >&2; exit 1; }
  fi
  # Only promtool is kept (the package's web assets are symlinks into other packages).
  (cd .cache/promtool && dpkg-deb -x prometheus_*.deb unpacked && mkdir -p usr/bin && mv unpacked/usr/bin/promtool usr/bin/ \
    && rm -rf unpacked prometheus_*.deb)
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm packages: installing (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  say "npm packages: up to date"
fi
