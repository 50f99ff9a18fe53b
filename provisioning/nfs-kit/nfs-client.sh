#!/usr/bin/env bash
# Mounts the cluster's shared DVR storage, with an fstab entry so it comes back after a reboot.
#   nfs-client.sh --server ADDR --export /srv/dvr --mountpoint /var/lib/dvr/storage
#                 --profile writer|reader [--nconnect 4] [--uid 5005] [--prefix DIR] [--check]
#                 [--transport nfs|sshfs --identity KEY --known-hosts FILE [--user dvr] [--port 22]]
# writer (transcoders): hard mount, long timeouts, nconnect, noatime; verified by writing and
#   reading back a probe file as the 'dvr' account.
# reader (edges): read-only, soft with short timeouts (a stalled read fails, it never holds a
#   worker), one-second attribute caches so playlists stay fresh,
#   lookupcache=positive so a new segment is never hidden by a cached "not found"; verified by
#   reading the storage marker.
# sshfs is the stand-in where the kernel has no NFS client (test labs): the same export over SFTP
# from the storage host as its owner account, with the same freshness (no directory cache for
# writers, one second for readers, no cached "not found"), the storage host's key pinned.
# With --prefix the fstab entry goes to <prefix>/etc/fstab (several nodes on one machine) and the
# mount is made directly.
source "$(dirname "$0")/lib.sh"

SERVER="" EXPORT="" MOUNTPOINT="" PROFILE="" NCONNECT=4 UID_DVR=5005
TRANSPORT=nfs IDENTITY="" KNOWN="" SSH_USER=dvr SSH_PORT=22
while [ $# -gt 0 ]; do
  case "$1" in
    --server) need_value "$@"; SERVER="$2"; shift 2 ;;
    --export) need_value "$@"; EXPORT="$2"; shift 2 ;;
    --mountpoint) need_value "$@"; MOUNTPOINT="$2"; shift 2 ;;
    --profile) need_value "$@"; PROFILE="$2"; shift 2 ;;
    --nconnect) need_value "$@"; NCONNECT="$2"; shift 2 ;;
    --uid) need_value "$@"; UID_DVR="$2"; shift 2 ;;
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --transport) need_value "$@"; TRANSPORT="$2"; shift 2 ;;
    --identity) need_value "$@"; IDENTITY="$2"; shift 2 ;;
    --known-hosts) need_value "$@"; KNOWN="$2"; shift 2 ;;
    --user) need_value "$@"; SSH_USER="$2"; shift 2 ;;
    --port) need_value "$@"; SSH_PORT="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
[[ "$SERVER" =~ ^[A-Za-z0-9.:-]+$ ]] || usage_error "--server: '$SERVER' is not a host name or address"
check_path "$EXPORT" "--export"
check_path "$MOUNTPOINT" "--mountpoint"
[ -z "$PREFIX" ] || check_path "$PREFIX" "--prefix"
[[ "$NCONNECT" =~ ^([1-9]|1[0-6])$ ]] || usage_error "--nconnect: '$NCONNECT' is not 1..16"
[[ "$UID_DVR" =~ ^[0-9]{3,9}$ ]] || usage_error "--uid: '$UID_DVR' is not a number"
case "$PROFILE" in writer|reader) ;; *) usage_error "--profile: '$PROFILE' is not writer or reader" ;; esac
case "$TRANSPORT" in
  nfs)
    SOURCE="$SERVER:$EXPORT" FSTYPE=nfs
    if [ "$PROFILE" = writer ]; then OPTS="rw,hard,timeo=600,retrans=2,nconnect=$NCONNECT,noatime,_netdev,vers=4.1"
    # Soft, with short timeouts: a read of a stalled server fails within about 1.5 s instead of holding
    # an nginx worker until the server returns (the edge then serves live media from the transcoders).
    else OPTS="ro,soft,timeo=5,retrans=1,actimeo=1,lookupcache=positive,noatime,_netdev,vers=4.1"; fi ;;
  sshfs)
    [[ "$SSH_USER" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || usage_error "--user: '$SSH_USER' is not a user name"
    [[ "$SSH_PORT" =~ ^[0-9]{1,5}$ ]] || usage_error "--port: '$SSH_PORT' is not a port"
    [ -f "$IDENTITY" ] || usage_error "--identity: '$IDENTITY' is not a file (the key the node logs into the storage host with)"
    [ -f "$KNOWN" ] && grep -q . "$KNOWN" || usage_error "--known-hosts: '$KNOWN' holds no pinned key of the storage host"
    SOURCE="$SSH_USER@$SERVER:$EXPORT" FSTYPE=fuse.sshfs
    key="$PREFIX/etc/dvr/storage-key" known="$PREFIX/etc/dvr/storage-known-hosts"
    base="allow_other,reconnect,negative_timeout=0,IdentityFile=$key"
    base+=",UserKnownHostsFile=$known,StrictHostKeyChecking=yes,Port=$SSH_PORT,_netdev"
    if [ "$PROFILE" = writer ]; then OPTS="rw,dir_cache=no,max_conns=$NCONNECT,ServerAliveInterval=2,ServerAliveCountMax=3,$base"
    # A reader gives up on a silent server within about 2 s (its waiting reads fail, as a soft NFS
    # mount's do) and does not wait on one that accepts but never answers when it reconnects.
    else OPTS="ro,dcache_timeout=1,entry_timeout=1,attr_timeout=1,ServerAliveInterval=1,ServerAliveCountMax=1,ConnectTimeout=1,$base"; fi ;;
  *) usage_error "--transport: '$TRANSPORT' is not nfs or sshfs" ;;
esac
need_root

ensure_user "$UID_DVR"
if [ "$TRANSPORT" = nfs ]; then ensure_packages nfs-common; else ensure_command sshfs sshfs; fi
if [ "$TRANSPORT" = sshfs ]; then
  ensure_dir "$PREFIX/etc/dvr" 0755 root:root
  ensure_file "$key" 0600 root:root "$IDENTITY"
  ensure_file "$known" 0644 root:root "$KNOWN"
fi
mountpoint -q "$MOUNTPOINT" 2>/dev/null || ensure_dir "$MOUNTPOINT" 0755 "$DVR_USER:$DVR_USER"

fstab_file="$PREFIX/etc/fstab"
entry="$SOURCE $MOUNTPOINT $FSTYPE $OPTS 0 0"
fstab=$(mktemp); trap 'rm -f "$fstab"' EXIT
[ -f "$fstab_file" ] && awk -v mp="$MOUNTPOINT" '$2 != mp' "$fstab_file" >"$fstab"
echo "$entry" >>"$fstab"
[ -z "$PREFIX" ] || ensure_dir "$PREFIX/etc" 0755 root:root
ensure_file "$fstab_file" 0644 root:root "$fstab"

mount_now() {
  if [ -z "$PREFIX" ]; then mount "$MOUNTPOINT"
  elif [ "$TRANSPORT" = sshfs ]; then sshfs -o "${OPTS%,_netdev}" "$SOURCE" "$MOUNTPOINT"
  else mount -t "$FSTYPE" -o "$OPTS" "$SOURCE" "$MOUNTPOINT"; fi
}
if ! mountpoint -q "$MOUNTPOINT"; then
  change "mount $SOURCE on $MOUNTPOINT ($TRANSPORT, $PROFILE)" mount_now
elif ! findmnt -n -o SOURCE "$MOUNTPOINT" | grep -qx "$SOURCE"; then
  die "$MOUNTPOINT is already a mount of $(findmnt -n -o SOURCE "$MOUNTPOINT"), not $SOURCE: unmount it first"
elif [ "$PROFILE" = reader ] && [ "$TRANSPORT" = nfs ] && ! findmnt -n -o OPTIONS "$MOUNTPOINT" | tr ',' '\n' | grep -qx soft; then
  # Mounted before reader mounts were soft: a stalled read would hold an nginx worker until it is remounted.
  say "warning: $MOUNTPOINT is mounted hard (an older reader profile); the new options apply once it is mounted again (umount -l $MOUNTPOINT, then run this again)"
fi

if [ "$CHECK" -eq 0 ]; then
  [ -f "$MOUNTPOINT/.dvr-storage" ] || die "$MOUNTPOINT has no .dvr-storage marker: is $SOURCE the DVR storage (nfs-server.sh writes it)?"
  if [ "$PROFILE" = writer ]; then
    probe="$MOUNTPOINT/.dvr-probe-$(hostname)-$$"
    runuser -u "$DVR_USER" -- sh -c 'echo probe >"$1" && [ "$(cat "$1")" = probe ] && rm -f "$1"' sh "$probe" \
      || die "the '$DVR_USER' account cannot write and read back $probe: check the export's rw networks and owner"
    say "write/read probe as $DVR_USER: ok"
  else
    runuser -u "$DVR_USER" -- cat "$MOUNTPOINT/.dvr-storage" >/dev/null || die "the '$DVR_USER' account cannot read $MOUNTPOINT/.dvr-storage"
    say "read probe as $DVR_USER: ok"
  fi
fi
finish
