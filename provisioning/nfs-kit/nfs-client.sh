#!/usr/bin/env bash
# Mounts the cluster's shared DVR storage, with an fstab entry so it comes back after a reboot.
#   nfs-client.sh --server ADDR --export /srv/dvr --mountpoint /var/lib/dvr/storage
#                 --profile writer|reader [--nconnect 4] [--uid 5005] [--check]
# writer (transcoders): hard mount, long timeouts, nconnect, noatime; verified by writing and
#   reading back a probe file as the 'dvr' account.
# reader (edges): read-only, one-second attribute caches so playlists stay fresh,
#   lookupcache=positive so a new segment is never hidden by a cached "not found"; verified by
#   reading the storage marker.
source "$(dirname "$0")/lib.sh"

SERVER="" EXPORT="" MOUNTPOINT="" PROFILE="" NCONNECT=4 UID_DVR=5005
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER="$2"; shift 2 ;;
    --export) EXPORT="$2"; shift 2 ;;
    --mountpoint) MOUNTPOINT="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    --nconnect) NCONNECT="$2"; shift 2 ;;
    --uid) UID_DVR="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    *) die "unknown option '$1'" ;;
  esac
done
[[ "$SERVER" =~ ^[A-Za-z0-9.:-]+$ ]] || die "--server: '$SERVER' is not a host name or address"
check_path "$EXPORT" "--export"
check_path "$MOUNTPOINT" "--mountpoint"
[[ "$NCONNECT" =~ ^([1-9]|1[0-6])$ ]] || die "--nconnect: '$NCONNECT' is not 1..16"
[[ "$UID_DVR" =~ ^[0-9]{3,9}$ ]] || die "--uid: '$UID_DVR' is not a number"
case "$PROFILE" in
  writer) OPTS="rw,hard,timeo=600,retrans=2,nconnect=$NCONNECT,noatime,_netdev,vers=4.1" ;;
  reader) OPTS="ro,hard,timeo=100,retrans=2,actimeo=1,lookupcache=positive,noatime,_netdev,vers=4.1" ;;
  *) die "--profile: '$PROFILE' is not writer or reader" ;;
esac
need_root

ensure_packages nfs-common
ensure_user "$UID_DVR"
ensure_dir "$MOUNTPOINT" 0755 "$DVR_USER:$DVR_USER"

entry="$SERVER:$EXPORT $MOUNTPOINT nfs $OPTS 0 0"
fstab=$(mktemp); trap 'rm -f "$fstab"' EXIT
awk -v mp="$MOUNTPOINT" '$2 != mp' /etc/fstab >"$fstab"
echo "$entry" >>"$fstab"
ensure_file /etc/fstab 0644 root:root "$fstab"

if ! mountpoint -q "$MOUNTPOINT"; then
  change "mount $SERVER:$EXPORT on $MOUNTPOINT ($PROFILE)" mount "$MOUNTPOINT"
elif ! findmnt -n -o SOURCE "$MOUNTPOINT" | grep -qx "$SERVER:$EXPORT"; then
  die "$MOUNTPOINT is already a mount of $(findmnt -n -o SOURCE "$MOUNTPOINT"), not $SERVER:$EXPORT: unmount it first"
fi

if [ "$CHECK" -eq 0 ]; then
  [ -f "$MOUNTPOINT/.dvr-storage" ] || die "$MOUNTPOINT has no .dvr-storage marker: is $SERVER:$EXPORT the DVR storage (nfs-server.sh writes it)?"
  if [ "$PROFILE" = writer ]; then
    probe="$MOUNTPOINT/.dvr-probe-$(hostname)"
    runuser -u "$DVR_USER" -- sh -c 'echo probe >"$1" && [ "$(cat "$1")" = probe ] && rm -f "$1"' sh "$probe" \
      || die "the '$DVR_USER' account cannot write and read back $probe: check the export's rw networks and owner"
    say "write/read probe as $DVR_USER: ok"
  else
    cat "$MOUNTPOINT/.dvr-storage" >/dev/null || die "cannot read $MOUNTPOINT/.dvr-storage"
    say "read probe: ok"
  fi
fi
finish
