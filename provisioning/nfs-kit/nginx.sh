#!/usr/bin/env bash
# Installs nginx (with the RTMP module on origins), drops the project's generated config, tests
# it, and starts or reloads nginx. A config that fails `nginx -t` is refused and the running one
# keeps serving.
#   nginx.sh --role edge|relay|origin --config FILE [--secret-include FILE] [--uid 5005]
#            [--prefix DIR] [--check]
# The config is the one the project renders for this node (dvr-provision does it). It runs as its
# own instance (dvr-nginx); the distribution's default site is switched off. An origin that is also
# the node's transcoder segments copy-mode streams itself (hls_path): its workers run as the
# agent's account (--uid), which takes the fragments from those directories.
# Edges and relays run nginx as the agent's account, whose one privilege is binding ports below
# 1024 (CAP_NET_BIND_SERVICE): the agent rewrites their stream maps (which streams need a token,
# which events ended) and reloads them. The signing secret's include (--secret-include) is
# installed 0640 root:<account>; the config itself 0640, readable by root and that account only.
source "$(dirname "$0")/lib.sh"

ROLE="" SRC="" UID_DVR=5005 SECRET_SRC="" secret_changed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --role) need_value "$@"; ROLE="$2"; shift 2 ;;
    --config) need_value "$@"; SRC="$2"; shift 2 ;;
    --secret-include) need_value "$@"; SECRET_SRC="$2"; shift 2 ;;
    --uid) need_value "$@"; UID_DVR="$2"; shift 2 ;;
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
case "$ROLE" in edge|relay|origin) ;; *) usage_error "--role: '$ROLE' is not edge, relay or origin" ;; esac
[ -f "$SRC" ] || usage_error "--config: '$SRC' is not a file"
[ -z "$SECRET_SRC" ] || [ -f "$SECRET_SRC" ] || usage_error "--secret-include: '$SECRET_SRC' is not a file"
[[ "$UID_DVR" =~ ^[0-9]{3,9}$ ]] || usage_error "--uid: '$UID_DVR' is not a number"
[ -z "$PREFIX" ] || check_path "$PREFIX" "--prefix"
need_root

AS_DVR=0
case "$ROLE" in edge|relay) AS_DVR=1 ;; esac
# nginx as this node runs it: edges and relays as the agent's account, with only CAP_NET_BIND_SERVICE.
run_nginx() {
  if [ "$AS_DVR" -eq 1 ]; then
    setpriv --reuid="$DVR_USER" --regid="$DVR_USER" --init-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service -- nginx "$@"
  else
    nginx "$@"
  fi
}

ensure_command nginx nginx-light
if [ "$ROLE" = origin ] && [ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then ensure_packages libnginx-mod-rtmp; fi
if [ -z "$PREFIX" ] && has_systemd && systemctl is-enabled --quiet nginx 2>/dev/null; then
  change "switch off the distribution's nginx service (this node runs dvr-nginx)" systemctl disable --now nginx
fi

conf="$PREFIX/etc/dvr/nginx/nginx.conf"
pidfile=$(sed -n 's/^pid "\(.*\)";$/\1/p' "$SRC" | head -n1)
[ -n "$pidfile" ] || die "$SRC has no 'pid \"...\";' line: is it a config the project generated?"
runtime=$(dirname "$pidfile")
check_path "$runtime" "the pid file's directory in $SRC"
if [ "$AS_DVR" -eq 1 ]; then
  ensure_user "$UID_DVR"
  command -v setpriv >/dev/null 2>&1 || ensure_packages util-linux
  ensure_dir "$runtime" 0750 "$DVR_USER:$DVR_USER"
  ensure_dir "$runtime/tmp" 0750 "$DVR_USER:$DVR_USER"
  [ "$CHECK" -eq 1 ] || runuser -u "$DVR_USER" -- test -w "$runtime/tmp" \
    || die "nginx's account '$DVR_USER' cannot reach $runtime: a parent directory shuts it out (ls -ld each parent)"
  # Logs written by an nginx that ran as root before: the account's now.
  for f in "$runtime"/*.log; do
    [ ! -e "$f" ] || [ "$(stat -c %U "$f")" = "$DVR_USER" ] || change "give $f to $DVR_USER" chown "$DVR_USER:$DVR_USER" "$f"
  done
  conf_owner="root:$DVR_USER"
else
  ensure_dir "$runtime" 0755 root:root
  ensure_dir "$runtime/tmp" 0755 root:root
  conf_owner="root:root"
fi
ensure_dir "$(dirname "$conf")" 0755 root:root

# The secret's include, where the config names it.
secret_path=$(sed -n 's/^ *include "\(.*\/signing\.conf\)";$/\1/p' "$SRC" | head -n1)
if [ -n "$secret_path" ]; then
  [ -n "$SECRET_SRC" ] || [ -f "$secret_path" ] || die "$SRC includes $secret_path, the signing secret: pass it with --secret-include"
  check_path "$secret_path" "the secret include in $SRC"
  before=$CHANGED; CHANGED=0
  [ -z "$SECRET_SRC" ] || ensure_file "$secret_path" 0640 "$conf_owner" "$SECRET_SRC"
  secret_changed=$CHANGED; CHANGED=$((before | CHANGED))
fi
# The stream maps the agent keeps: until it has written them (within a heartbeat of starting),
# every stream needs a token, so a signed stream is never served open, no content steering pathway
# is named (nor another edge for redundant variants), no stream has a live view to fall back to
# and none is low-latency. Maps an older agent wrote gain the maps
# the config now uses.
maps_path=$(sed -n 's/^ *include "\(.*\/streams\.conf\)";$/\1/p' "$SRC" | head -n1)
pathway_map=('map $http_x_dvr_relay $dvr_pathway {' '    default "";' '}')
live_maps=('map $dvr_live_path $dvr_live_source {' '    default "";' '}' 'map $host $dvr_live_key {' '    default "";' '}')
backup_maps=('map $http_x_dvr_relay $dvr_backup_host {' '    default "";' '}' 'map $host $dvr_backup_id {' '    default "";' '}')
ll_maps=('map $uri $dvr_ll_stream {' '    default 0;' '}')
missing_maps() {  # the default maps the config uses that the file ($1, may be empty) lacks
  if grep -q 'dvr_pathway' "$SRC" && ! grep -q ' \$dvr_pathway {' "$1"; then printf '%s\n' "${pathway_map[@]}"; fi
  if grep -q 'dvr_live_source' "$SRC" && ! grep -q ' \$dvr_live_source {' "$1"; then printf '%s\n' "${live_maps[@]}"; fi
  if grep -q 'dvr_backup_host' "$SRC" && ! grep -q ' \$dvr_backup_host {' "$1"; then printf '%s\n' "${backup_maps[@]}"; fi
  if grep -q 'dvr_ll_stream' "$SRC" && ! grep -q ' \$dvr_ll_stream {' "$1"; then printf '%s\n' "${ll_maps[@]}"; fi
}
if [ -n "$maps_path" ] && [ ! -f "$maps_path" ]; then
  check_path "$maps_path" "the stream maps include in $SRC"
  closed=$(mktemp)
  printf '%s\n' "# Until the agent writes the controller's stream maps: every stream needs a token." \
    'map $uri $dvr_sig_required {' '    default 1;' '}' 'map $uri $dvr_stream_ended {' '    default 0;' '}' >"$closed"
  missing_maps /dev/null >>"$closed"
  ensure_file "$maps_path" 0640 "$DVR_USER:$DVR_USER" "$closed"
  rm -f "$closed"
elif [ -n "$maps_path" ] && [ -n "$(missing_maps "$maps_path")" ]; then
  check_path "$maps_path" "the stream maps include in $SRC"
  upgraded=$(mktemp)
  cat "$maps_path" >"$upgraded"
  missing_maps "$maps_path" >>"$upgraded"
  ensure_file "$maps_path" 0640 "$DVR_USER:$DVR_USER" "$upgraded"
  rm -f "$upgraded"
fi

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

# Tested as nginx will run it, from a copy the account can read, before it replaces the running one.
if [ -d "$runtime/tmp" ]; then
  candidate="$(dirname "$conf")/.nginx.conf.next.$$"
  install -m 0640 -o "${conf_owner%%:*}" -g "${conf_owner##*:}" "$SRC" "$candidate"
  if ! out=$(run_nginx -t -q -c "$candidate" 2>&1); then
    rm -f "$candidate"
    printf '%s\n' "$out" >&2
    die "nginx -t refused the new config; the running config is kept"
  fi
  rm -f "$candidate"
fi

before=$CHANGED; CHANGED=0
# It may hold secrets (the origin's hook token): readable by root and nginx's account only.
ensure_file "$conf" 0640 "$conf_owner" "$SRC"
conf_changed=$((CHANGED | secret_changed)); CHANGED=$((before | CHANGED))

if [ -z "$PREFIX" ] && has_systemd; then
  unit=$(mktemp); trap 'rm -f "$unit"' EXIT
  cat >"$unit" <<UNIT
[Unit]
Description=DVR nginx ($ROLE)
After=network-online.target remote-fs.target
Wants=network-online.target

[Service]
Type=forking
$([ "$AS_DVR" -eq 1 ] && printf 'User=%s\nGroup=%s\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n' "$DVR_USER" "$DVR_USER")
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
  if ! alive "$pidfile"; then change "start nginx -c $conf" run_nginx -c "$conf"
  elif [ "$conf_changed" -eq 1 ]; then change "reload nginx -c $conf" run_nginx -c "$conf" -s reload; fi
fi

if [ "$CHECK" -eq 0 ]; then
  # Every address the config listens on answers.
  for l in $(sed -n 's/^ *listen \([0-9.]*:[0-9]*\)[ ;].*/\1/p' "$conf" | sort -u); do
    wait_tcp "${l%:*}" "${l##*:}" 10 || die "nginx does not answer on $l (see $(dirname "$pidfile")/error.log)"
  done
  say "nginx answers on every listen address"
fi
finish
