#!/usr/bin/env bash
# Installs nginx (with the RTMP module on origins), drops the project's generated config, tests
# it, and starts or reloads nginx. A config that fails `nginx -t` is refused and the running one
# keeps serving.
#   nginx.sh --role edge|relay|origin --config FILE [--uid 5005] [--prefix DIR] [--check]
# The config is the one the project renders for this node (dvr-provision does it). It runs as its
# own instance (dvr-nginx); the distribution's default site is switched off. An origin that is also
# the node's transcoder segments copy-mode streams itself (hls_path): its workers run as the
# agent's account (--uid), which takes the fragments from those directories.
source "$(dirname "$0")/lib.sh"

ROLE="" SRC="" UID_DVR=5005
while [ $# -gt 0 ]; do
  case "$1" in
    --role) ROLE="$2"; shift 2 ;;
    --config) SRC="$2"; shift 2 ;;
    --uid) UID_DVR="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    *) die "unknown option '$1'" ;;
  esac
done
case "$ROLE" in edge|relay|origin) ;; *) die "--role: '$ROLE' is not edge, relay or origin" ;; esac
[ -f "$SRC" ] || die "--config: '$SRC' is not a file"
[[ "$UID_DVR" =~ ^[0-9]{3,9}$ ]] || die "--uid: '$UID_DVR' is not a number"
[ -z "$PREFIX" ] || check_path "$PREFIX" "--prefix"
need_root

ensure_command nginx nginx-light
if [ "$ROLE" = origin ] && [ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then ensure_packages libnginx-mod-rtmp; fi
if [ -z "$PREFIX" ] && has_systemd && systemctl is-enabled --quiet nginx 2>/dev/null; then
  change "switch off the distribution's nginx service (this node runs dvr-nginx)" systemctl disable --now nginx
fi

conf="$PREFIX/etc/dvr/nginx/nginx.conf"
pidfile=$(sed -n 's/^pid "\(.*\)";$/\1/p' "$SRC" | head -n1)
[ -n "$pidfile" ] || die "$SRC has no 'pid \"...\";' line: is it a config the project generated?"
ensure_dir "$(dirname "$pidfile")" 0755 root:root
ensure_dir "$(dirname "$pidfile")/tmp" 0755 root:root
ensure_dir "$(dirname "$conf")" 0755 root:root

# The segmenter's directories (hls_path), owned by the workers' account, before nginx -t.
workers=$(sed -n 's/^user \([a-z_][a-z0-9_-]*\);$/\1/p' "$SRC" | head -n1)
hls_paths=$(sed -n 's/^ *hls_path "\(.*\)";$/\1/p' "$SRC" | sort -u)
if [ -n "$hls_paths" ]; then
  [ "$workers" = "$DVR_USER" ] || die "$SRC segments (hls_path) but its workers do not run as $DVR_USER ('user $DVR_USER;'): the agent could not take the fragments"
  ensure_user "$UID_DVR"
  for d in $hls_paths; do
    check_path "$d" "hls_path in $SRC"
    ensure_dir "$(dirname "$d")" 0750 "$DVR_USER:$DVR_USER"
    ensure_dir "$d" 0750 "$DVR_USER:$DVR_USER"
  done
fi

if [ -d "$(dirname "$pidfile")/tmp" ]; then
  if ! out=$(nginx -t -q -c "$SRC" 2>&1); then
    printf '%s\n' "$out" >&2
    die "nginx -t refused the new config; the running config is kept"
  fi
fi

before=$CHANGED; CHANGED=0
ensure_file "$conf" 0644 root:root "$SRC"
conf_changed=$CHANGED; CHANGED=$((before | CHANGED))

if [ -z "$PREFIX" ] && has_systemd; then
  unit=$(mktemp); trap 'rm -f "$unit"' EXIT
  cat >"$unit" <<UNIT
[Unit]
Description=DVR nginx ($ROLE)
After=network-online.target remote-fs.target
Wants=network-online.target

[Service]
Type=forking
PIDFile=$pidfile
ExecStartPre=/usr/sbin/nginx -t -q -c $conf
ExecStart=/usr/sbin/nginx -c $conf
ExecReload=/usr/sbin/nginx -c $conf -s reload
ExecStop=/usr/sbin/nginx -c $conf -s quit
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
  before=$CHANGED; CHANGED=0
  ensure_file /etc/systemd/system/dvr-nginx.service 0644 root:root "$unit"
  unit_changed=$CHANGED; CHANGED=$((before | CHANGED))
  [ "$unit_changed" -eq 0 ] || [ "$CHECK" -eq 1 ] || systemctl daemon-reload
  if ! systemctl is-active --quiet dvr-nginx; then change "start dvr-nginx" systemctl enable --now dvr-nginx
  elif [ "$conf_changed" -eq 1 ]; then change "reload dvr-nginx" systemctl reload dvr-nginx; fi
else
  if ! alive "$pidfile"; then change "start nginx -c $conf" nginx -c "$conf"
  elif [ "$conf_changed" -eq 1 ]; then change "reload nginx -c $conf" nginx -c "$conf" -s reload; fi
fi

if [ "$CHECK" -eq 0 ]; then
  # Every address the config listens on answers.
  for l in $(sed -n 's/^ *listen \([0-9.]*:[0-9]*\)[ ;].*/\1/p' "$conf" | sort -u); do
    wait_tcp "${l%:*}" "${l##*:}" 10 || die "nginx does not answer on $l (see $(dirname "$pidfile")/error.log)"
  done
  say "nginx answers on every listen address"
fi
finish
