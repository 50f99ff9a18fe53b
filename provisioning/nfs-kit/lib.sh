# Shared by the nfs-kit scripts; sourced, never run. Every script is idempotent: it compares what
# is there with what should be, changes only the difference, and ends with one line the runner reads:
#   result: unchanged | result: changed | result: would change   (--check)
# With --check nothing is changed; each difference is printed as "would: <what>".
# shellcheck shell=bash
set -euo pipefail
umask 022

CHECK=0
CHANGED=0
# --prefix: the root the scripts that source this file install under (a test host's directory).
# shellcheck disable=SC2034  # read by those scripts, not here
PREFIX=""
STEP="$(basename "$0" .sh)"

say() { printf '%s: %s\n' "$STEP" "$*"; }
die() { printf '%s: error: %s\n' "$STEP" "$*" >&2; exit 1; }
# usage_error "<what>": a bad command line; one line, exit 2 (as every command of the project).
usage_error() { printf '%s: usage: %s (see %s --help)\n' "$STEP" "$*" "$(basename "$0")" >&2; exit 2; }
# usage: the script's header comment, on stdout.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
# need_value "$@": the option in $1 takes a value.
need_value() { [ $# -ge 2 ] && [[ "$2" != --* ]] || usage_error "$1 needs a value"; }

# change "<what>" cmd args...: runs the command unless --check; records that something differs.
change() {
  local what="$1"; shift
  CHANGED=1
  if [ "$CHECK" -eq 1 ]; then say "would: $what"; return 0; fi
  say "change: $what"
  "$@"
}

finish() {
  if [ "$CHANGED" -eq 0 ]; then echo "result: unchanged"
  elif [ "$CHECK" -eq 1 ]; then echo "result: would change"
  else echo "result: changed"; fi
}

has_systemd() { [ -d /run/systemd/system ]; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and writes under /etc); try: sudo $0 $*"; }

# ensure_packages pkg...: installs the Debian packages that are missing. Services the packages
# would start are left to the script that configures them.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  change "install Debian packages ${missing[*]}" apt_install "${missing[@]}"
}
# ensure_command <command> <package>: installs the package when the command is missing (another
# package may provide it, e.g. nginx-core instead of nginx-light).
ensure_command() {
  command -v "$1" >/dev/null 2>&1 || ensure_packages "$2"
}
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

# ensure_file <dest> <mode> <owner:group> <source-file>: installs the content when it differs
# (atomically: written beside, then renamed), and fixes mode and owner.
ensure_file() {
  local dest="$1" mode="$2" owner="$3" src="$4"
  if [ ! -f "$dest" ] || ! cmp -s "$src" "$dest"; then
    change "write $dest" install_atomic "$src" "$dest" "$mode" "$owner"
    return 0
  fi
  [ "$(stat -c '%a %U:%G' "$dest")" = "${mode#0} $owner" ] || change "set $dest to $mode $owner" chown_mod "$dest" "$mode" "$owner"
}
install_atomic() {
  local src="$1" dest="$2" mode="$3" owner="$4"
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest.new.$$"
  mv -f "$dest.new.$$" "$dest"
}
chown_mod() { chown "$3" "$1"; chmod "$2" "$1"; }

# ensure_dir <dir> <mode> <owner:group>
ensure_dir() {
  local dir="$1" mode="$2" owner="$3"
  if [ ! -d "$dir" ]; then change "create $dir" install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"; return 0; fi
  [ "$(stat -c '%a %U:%G' "$dir")" = "${mode#0} $owner" ] || change "set $dir to $mode $owner" chown_mod "$dir" "$mode" "$owner"
}

# The service account that owns the shared storage. Its uid/gid must be the same on every node
# (NFS compares numbers), so it is fixed, not allocated.
DVR_USER=dvr
ensure_user() {
  local uid="$1"
  if ! getent group "$DVR_USER" >/dev/null; then change "create group $DVR_USER ($uid)" groupadd --system --gid "$uid" "$DVR_USER"; fi
  if ! getent passwd "$DVR_USER" >/dev/null; then
    change "create user $DVR_USER ($uid)" useradd --system --uid "$uid" --gid "$uid" --home-dir /var/lib/dvr --no-create-home --shell /usr/sbin/nologin "$DVR_USER"
  elif [ "$(id -u "$DVR_USER")" != "$uid" ]; then
    die "user $DVR_USER exists with uid $(id -u "$DVR_USER"), but the cluster uses $uid (NFS matches numbers): fix it by hand"
  fi
}

# A CIDR the scripts will put into an export or an allow list: IPv4 a.b.c.d/n or IPv6 x::/n, never
# '*' or a catch-all network (any /0, however written), never a prefix length out of range.
check_cidr() {
  local c="$1" where="$2" max bits i
  if [[ "$c" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,3})$ ]]; then
    for i in 1 2 3 4; do
      [ "$((10#${BASH_REMATCH[$i]}))" -le 255 ] || usage_error "$where: '$c': ${BASH_REMATCH[$i]} is not an address byte (0-255)"
    done
    bits=$((10#${BASH_REMATCH[5]})) max=32
  elif [[ "$c" =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:]*/([0-9]{1,3})$ ]]; then
    bits=$((10#${BASH_REMATCH[1]})) max=128
  else
    usage_error "$where: '$c' is not a network in CIDR form (e.g. 10.0.0.0/24)"
  fi
  [ "$bits" -le "$max" ] || usage_error "$where: '$c': prefix length $bits is out of range (0-$max)"
  [ "$bits" -gt 0 ] || usage_error "$where: '$c' would open it to every address (a /0 network); name the cluster's networks"
}

# An absolute path without '..', quotes or spaces: it ends up in config files.
check_path() {
  local p="$1" where="$2"
  [[ "$p" =~ ^/[A-Za-z0-9._/-]*$ ]] && [[ ! "$p" =~ (^|/)\.\.(/|$) ]] || usage_error "$where: '$p' must be an absolute path of letters, digits and . _ - /"
}

# wait_tcp <host> <port> <seconds>: until something listens there.
wait_tcp() {
  local host="$1" port="$2" deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# alive <pidfile>: the process it names runs.
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
