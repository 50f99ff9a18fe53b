#!/usr/bin/env bash
# Installs the DVR agent and keeps it running under pm2 as the 'dvr' account: on a transcoder it
# runs the encoders and the packager, on an edge, relay or origin it reports nginx's connections.
#   agent.sh --bundle dvr-agent.tgz --config agent.json [--uid 5005] [--prefix DIR] [--check]
#   agent.sh --stop [--prefix DIR] [--check]     (the node leaves the cluster: its agent stops)
# The bundle (dvr-provision builds it: the compiled project and its production node_modules) is
# unpacked into <prefix>/opt/dvr/releases/<checksum>, and <prefix>/opt/dvr/current points at it;
# a new bundle or config reloads the agent (SIGTERM: the segment in flight is finished). With
# systemd, pm2-dvr.service has pm2 resurrect it at boot. Its logs (pm2's and the encoders') rotate with
# logrotate (<prefix>/etc/logrotate.d/dvr-agent).
source "$(dirname "$0")/lib.sh"

BUNDLE="" SRC="" UID_DVR=5005 STOP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --stop) STOP=1; shift ;;
    --bundle) need_value "$@"; BUNDLE="$2"; shift 2 ;;
    --config) need_value "$@"; SRC="$2"; shift 2 ;;
    --uid) need_value "$@"; UID_DVR="$2"; shift 2 ;;
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
[ -z "$PREFIX" ] || check_path "$PREFIX" "--prefix"
[[ "$UID_DVR" =~ ^[0-9]{3,9}$ ]] || usage_error "--uid: '$UID_DVR' is not a number"
need_root

base="$PREFIX/opt/dvr"
conf="$PREFIX/etc/dvr/agent.json"
home="$PREFIX/var/lib/dvr"
pm2() {
  # From the account's home: pm2 starts its daemon in the current directory.
  cd "$home" && runuser -u "$DVR_USER" -- env HOME="$home" PM2_HOME="$home/pm2" DVR_AGENT_CONFIG="$conf" \
    node "$base/current/node_modules/pm2/bin/pm2" "$@"
}
# "<status> <restarts> <cwd>" of the dvr-agent app, or nothing.
agent_state() {
  [ -d "$base/current" ] && [ -d "$home/pm2" ] || return 0
  pm2 jlist 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      let list = []; try { list = JSON.parse(s.slice(s.indexOf("["))); } catch {}
      const a = list.find(p => p.name === "dvr-agent");
      if (a) console.log(a.pm2_env.status, a.pm2_env.restart_time, a.pm2_env.pm_cwd);
    });' || true
}

if [ "$STOP" -eq 1 ]; then
  read -r status restarts cwd < <(agent_state; echo) || true
  if [ -n "${status:-}" ]; then
    stop_agent() { pm2 delete dvr-agent >/dev/null && pm2 save --force >/dev/null; }
    change "stop the agent (SIGTERM: the segment in flight is finished) and drop it from pm2's saved list" stop_agent
  fi
  finish; exit 0
fi
[ -f "$BUNDLE" ] || usage_error "--bundle: '$BUNDLE' is not a file"
[ -f "$SRC" ] || usage_error "--config: '$SRC' is not a file"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*\).*/\1/p')
  [ "${candidate:-0}" -ge 20 ] || die "the agent needs Node.js 20 or newer (found: $(node -v 2>/dev/null || echo none); this release's Debian offers ${candidate:-none}): install Node.js 20+ first"
  ensure_packages nodejs
fi
ensure_user "$UID_DVR"

sum=$(sha256sum "$BUNDLE" | cut -c1-16)
release="$base/releases/$sum"
ensure_dir "$base/releases" 0755 root:root
unpack() {
  local tmp="$release.new.$$"
  mkdir -p "$tmp" && tar -xzf "$BUNDLE" -C "$tmp" --no-same-owner && mv "$tmp" "$release"
}
[ -d "$release" ] || change "unpack the agent release $sum" unpack
pm2_version() { node -p 'require(process.argv[1]).version' "$1/node_modules/pm2/package.json" 2>/dev/null || true; }
pm2_before=$(pm2_version "$base/current")
[ "$(readlink "$base/current" 2>/dev/null)" = "releases/$sum" ] \
  || change "point $base/current at release $sum" sh -c 'ln -sfn "releases/$1" "$2.new" && mv -T "$2.new" "$2"' sh "$sum" "$base/current"

ensure_dir "$(dirname "$conf")" 0755 root:root
before=$CHANGED; CHANGED=0
# The config holds the agent token: readable by the agent's account only.
ensure_file "$conf" 0640 "root:$DVR_USER" "$SRC"
conf_changed=$CHANGED; CHANGED=$((before | CHANGED))

# The directories the agent writes, owned by its account.
read -r role storage spool state < <(node -e '
  const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const spool = c.spoolRoot || c.storageRoot;
  console.log(c.role || "transcoder", c.storageRoot, spool, c.stateDir || spool + "/.state");' "$SRC") || die "$SRC is not the agent's JSON config"
for d in "$storage" "$spool" "$state"; do check_path "$d" "$SRC"; done
# Only transcoders run encoders.
[ "$role" != transcoder ] || ensure_command ffmpeg ffmpeg
ensure_dir "$home" 0750 "$DVR_USER:$DVR_USER"
ensure_dir "$spool" 0750 "$DVR_USER:$DVR_USER"
ensure_dir "$state" 0750 "$DVR_USER:$DVR_USER"
[ "$role" != transcoder ] || mountpoint -q "$storage" 2>/dev/null || ensure_dir "$storage" 0755 "$DVR_USER:$DVR_USER"

# Logs rotate with the system's logrotate: pm2's (the agent's own output) and the encoders' ffmpeg
# logs; daily or past 100 MB, a week kept, compressed; copytruncate, as pm2 and ffmpeg keep their
# files open; as the agent's account, which owns the directories.
ensure_command logrotate logrotate
rotate_conf=$(mktemp)
trap 'rm -f "$rotate_conf"' EXIT
cat >"$rotate_conf" <<EOF
# Written by the DVR agent's provisioning (nfs-kit/agent.sh).
$home/pm2/*.log $home/pm2/logs/*.log $state/*.ffmpeg.log {
  daily
  maxsize 100M
  rotate 7
  compress
  delaycompress
  missingok
  notifempty
  copytruncate
  su $DVR_USER $DVR_USER
}
EOF
ensure_file "$PREFIX/etc/logrotate.d/dvr-agent" 0644 root:root "$rotate_conf"

# A release with another pm2: its daemon is replaced (pm2 update: saved list, new daemon, the agent
# restarted with SIGTERM), or the old daemon would keep running under the new client. The daemon's
# version is recorded once it runs, and compared at every run, so a run that stopped half-way is
# caught up by the next one. (Before the record existed, the previous release's pm2 stands for it.)
pm2_now=$(pm2_version "$base/current")
daemon_file="$home/pm2/.dvr-pm2-version"
daemon_version=$(cat "$daemon_file" 2>/dev/null || true)
[ -n "$daemon_version" ] || daemon_version=$pm2_before
if [ -n "$daemon_version" ] && [ -n "$pm2_now" ] && [ "$daemon_version" != "$pm2_now" ] && [ -e "$home/pm2/pm2.pid" ]; then
  pm2_update() { pm2 update >/dev/null; }
  change "update pm2's daemon ($daemon_version -> $pm2_now)" pm2_update
fi

read -r status restarts cwd < <(agent_state; echo) || true
if [ "${status:-}" != online ]; then
  change "start the agent under pm2 (release $sum)" pm2 startOrReload "$base/current/ecosystem.config.cjs" --update-env
elif [ "$cwd" != "$(realpath "$release" 2>/dev/null || echo "$release")" ] || [ "$conf_changed" -eq 1 ]; then
  change "reload the agent (release $sum)" pm2 startOrReload "$base/current/ecosystem.config.cjs" --update-env
fi

if [ "$CHECK" -eq 0 ]; then
  [ "$CHANGED" -eq 0 ] || pm2 save --force >/dev/null
  # It must stay up: a config the agent refuses makes pm2 restart it over and over.
  deadline=$((SECONDS + 15)); stable=0 last=""
  while [ "$stable" -lt 3 ]; do
    read -r status restarts cwd < <(agent_state; echo) || true
    if [ "${status:-}" = online ] && [ "${restarts:-}" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
    last=${restarts:-}
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$home/pm2/logs/dvr-agent-error.log" >&2 2>/dev/null || true
      die "the agent is not staying online under pm2 (status: ${status:-missing})"
    fi
    sleep 1
  done
  say "pm2 lists dvr-agent online"
  [ "$(cat "$daemon_file" 2>/dev/null || true)" = "$pm2_now" ] || runuser -u "$DVR_USER" -- sh -c 'printf "%s\n" "$1" >"$2"' sh "$pm2_now" "$daemon_file"
fi

# At boot systemd has pm2 resurrect the saved list. The unit is written here rather than by
# `pm2 startup`, which names the release's own pm2 (gone once that release is pruned) and
# PM2_HOME=<home>/.pm2 (not the <home>/pm2 the daemon runs with: nothing would be resurrected).
# It runs pm2 through the current symlink, so a new release needs no new unit.
unit="$PREFIX/etc/systemd/system/pm2-$DVR_USER.service"
unit_src=$(mktemp)
trap 'rm -f "$rotate_conf" "$unit_src"' EXIT
node_bin=$(command -v node)
pm2_bin="$base/current/node_modules/pm2/bin/pm2"
cat >"$unit_src" <<EOF
# Written by the DVR agent's provisioning (nfs-kit/agent.sh).
[Unit]
Description=pm2 running the DVR agent
After=network-online.target remote-fs.target
Wants=network-online.target

[Service]
Type=forking
User=$DVR_USER
WorkingDirectory=$home
Environment=HOME=$home PM2_HOME=$home/pm2 DVR_AGENT_CONFIG=$conf
Environment=PATH=$(dirname "$node_bin"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PIDFile=$home/pm2/pm2.pid
LimitNOFILE=65536
Restart=on-failure
ExecStart=$node_bin $pm2_bin resurrect
ExecReload=$node_bin $pm2_bin reload all
ExecStop=$node_bin $pm2_bin kill

[Install]
WantedBy=multi-user.target
EOF
unit_before=$(cat "$unit" 2>/dev/null || true)
ensure_file "$unit" 0644 root:root "$unit_src"
if [ -z "$PREFIX" ] && has_systemd; then
  if [ "$unit_before" != "$(cat "$unit" 2>/dev/null || true)" ]; then change "reload systemd's units" systemctl daemon-reload; fi
  systemctl is-enabled --quiet "pm2-$DVR_USER.service" 2>/dev/null \
    || change "start pm2 and the agent at boot (pm2-$DVR_USER.service)" systemctl enable --quiet "pm2-$DVR_USER.service"
else
  say "note: no systemd here (or --prefix given): $unit is written, not enabled"
fi
finish
