#!/usr/bin/env bash
# Real S3 server for the tests: Ceph RADOS Gateway 16.2 (pacific, Debian bookworm) on a throw-away
# one-node Ceph cluster (1 mon + 1 bluestore osd in a sparse file, no mgr), listening on loopback only.
# Our team's recipe (shared/s3/start-ceph-rgw.sh), kept here so that a checkout has its own copy.
# test/helpers/ceph-rgw.ts drives it step by step (so that node is the daemons' parent); by hand:
#
#   ceph-rgw.sh install   # apt-get the packages (root, Debian bookworm; ~270 MB, ~30 s)
#   ceph-rgw.sh start     # ~5 s; prints "export S3_ENDPOINT=... AWS_..." lines (also in $S3_DIR/env)
#   ceph-rgw.sh stop      # SIGTERM (then SIGKILL) each started PID, removes $S3_DIR
#   ceph-rgw.sh status
#
# Steps (what `start` does, one at a time; ceph-rgw.ts runs these):
#   init                  # writes $S3_DIR/ceph.conf, the keyring and the monmap; mkfs of the mon
#   exec mon|osd|rgw      # execs the daemon in the foreground (same PID), SIGKILLed if its parent dies
#   wait mon|osd|rgw      # until the mon answers / osd.0 is up / GET / on the gateway answers 200
#   osd-init              # registers osd.0 with the mon and makes its bluestore (needs the mon)
#   user                  # creates the S3 user with S3_ACCESS_KEY / S3_SECRET_KEY (needs the gateway's pools)
#   forget-gateway        # after a killed radosgw, before starting it again: blocklists its rados client
#
# Optional environment: S3_DIR (default $TMPDIR/ceph-rgw), S3_PORT (7480),
#   S3_MON_PORT (40000; the mon uses it and +1), S3_MS_PORT_MIN / S3_MS_PORT_MAX (the osd's
#   messenger ports, default S3_MON_PORT+10 .. +200; the osd binds 8 of them), S3_STORE (bluestore |
#   memstore), S3_ACCESS_KEY, S3_SECRET_KEY, S3_WAIT_MON / S3_WAIT_OSD / S3_WAIT_RGW (seconds: 60, 90, 90),
#   S3_KEEP_DATA=1 (stop keeps $S3_DIR, e.g. for the logs)
#
# Notes from making it work (keep them when editing):
# - No cephx between the daemons ("auth ... = none"); S3 requests are still SigV4-authenticated by rgw.
# - radosgw counts as a daemon and insists on msgr2 *secure* mode, which needs cephx: every "ms ... mode"
#   lists crc first.
# - "paxos propose interval" 1 s -> 0.05 s: rgw's first start creates ~20 pools, one map change each.
# - beast with tcp_nodelay=1, else small requests wait for delayed ACKs (~40 ms each).
# - A SIGKILLed radosgw leaves its watches on the control objects for 30 s (osd client watch timeout);
#   until then every metadata write of the next gateway (CreateBucket...) waits for the dead one's
#   notify ack (~30 s). forget-gateway blocklists the dead client, so the osd drops its watches at once
#   (rgw cache enabled = false avoids the notifies too, but makes small requests ~2x slower).
# - bluestore in a sparse 20 GiB file (a few MB really used); memstore works too but holds data in RAM.
set -euo pipefail

D=${S3_DIR:-${TMPDIR:-/tmp}/ceph-rgw}
PORT=${S3_PORT:-7480}
MON_PORT=${S3_MON_PORT:-40000}
MS_MIN=${S3_MS_PORT_MIN:-$((MON_PORT + 10))}
MS_MAX=${S3_MS_PORT_MAX:-$((MON_PORT + 200))}
STORE=${S3_STORE:-bluestore}
AK=${S3_ACCESS_KEY:-TESTACCESSKEY0000001}
SK=${S3_SECRET_KEY:-TestSecretKey0000000000000000000000000001}
CONF=$D/ceph.conf
CEPH=(ceph -c "$CONF" --connect-timeout 20)

log() { echo "[s3 $(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

wait_for() { # seconds description command...
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timed out after ${t}s waiting for $what"
    sleep 0.3
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() ( # GET / answers 200 (anonymous ListBuckets)
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
  printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 5 line <&3 || exit 1
  [[ $line == *" 200 "* ]]
)
osd_up() { "${CEPH[@]}" osd dump | grep -q '^osd.0 up'; }

do_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends radosgw ceph-mon ceph-osd
}

daemon_argv() { # name -> ARGV (foreground: the process we start is the daemon itself)
  case $1 in
    mon) ARGV=(ceph-mon -f -c "$CONF" -i a) ;;
    osd) ARGV=(ceph-osd -f -c "$CONF" -i 0) ;;
    rgw) ARGV=(radosgw -f -c "$CONF" -n client.rgw) ;;
    *) die "unknown daemon '$1'" ;;
  esac
}

do_exec() { # name: replaces this shell; the daemon gets SIGKILL when its parent (the caller) dies
  [ -f "$CONF" ] || die "$CONF missing; run init first"
  daemon_argv "$1"
  exec setpriv --pdeathsig KILL "${ARGV[@]}"
}

do_wait() { # name
  case $1 in
    mon) wait_for "${S3_WAIT_MON:-60}" "monitor on 127.0.0.1:$MON_PORT" "${CEPH[@]}" mon stat ;;
    osd) wait_for "${S3_WAIT_OSD:-90}" "osd.0 up" osd_up ;;
    rgw) wait_for "${S3_WAIT_RGW:-90}" "radosgw on 127.0.0.1:$PORT" http_ok ;;
    *) die "unknown daemon '$1'" ;;
  esac
}

spawn() { # name  (standalone start: detached, $! is the daemon's own PID)
  daemon_argv "$1"
  setsid "${ARGV[@]}" >>"$D/log/$1.out" 2>&1 </dev/null &
  echo $! >"$D/pids/$1.pid"
}

stop_group() { # SIGTERM the given daemons, wait up to 10 s, then SIGKILL
  local name f pid pids=() alive
  for name in "$@"; do
    f=$D/pids/$name.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    # only signal it if it is still the process we started (guards against PID reuse)
    if kill -0 "$pid" 2>/dev/null && grep -q "$D/ceph.conf" "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$f"
  done
  for _ in $(seq 1 50); do
    alive=()
    # a zombie (no reaper in some containers) counts as gone
    for pid in "${pids[@]}"; do
      [ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] && alive+=("$pid")
    done
    pids=("${alive[@]}")
    [ ${#pids[@]} -eq 0 ] && return 0
    sleep 0.2
  done
  for pid in "${pids[@]}"; do log "pid $pid still alive, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; done
}

do_stop() {
  [ -d "$D/pids" ] || { log "nothing to stop"; return 0; }
  # one at a time (~2 s each): rgw can hang if the osd goes first, the osd waits for the mon
  stop_group rgw
  stop_group osd
  stop_group mon
  [ "${S3_KEEP_DATA:-0}" = 1 ] || rm -rf "$D"
  log "stopped"
}

do_init() {
  for c in radosgw radosgw-admin rados ceph-mon ceph-osd ceph monmaptool ceph-authtool setsid setpriv; do
    command -v $c >/dev/null || die "$c missing; run: $0 install"
  done
  mkdir -p "$D"/{log,run,pids,crash,mon.a,osd.0,rgw}
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)

  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$((MON_PORT + 1))]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $MS_MIN
ms bind port max = $MS_MAX
# no cephx between the daemons (S3 requests are still SigV4/V2-authenticated by rgw)
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
# radosgw (a "daemon") otherwise insists on msgr2 secure mode, which needs cephx
ms mon client mode = crc secure
ms client mode = crc secure
ms mon service mode = crc secure
ms mon cluster mode = crc secure
ms service mode = crc secure
ms cluster mode = crc secure
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
crash dir = $D/crash
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
# commit map changes fast (default 1 s each; rgw's pool creation makes ~20 of them)
paxos propose interval = 0.05
[mon]
mon data = $D/mon.\$id
mon cluster log file = $D/log/cluster.log
[osd]
osd data = $D/osd.\$id
osd objectstore = $STORE
osd memory target = 939524096
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mkfs = false
memstore device bytes = 8589934592
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $D/rgw
rgw thread pool size = 64
rgw dns name = localhost
# really free deleted/overwritten data after ~30 s instead of 2 h
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF

  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$((MON_PORT + 1))]" "$D/monmap" >/dev/null
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$D/monmap" --keyring "$D/keyring" >"$D/log/mon-mkfs.out" 2>&1 \
    || die "ceph-mon --mkfs failed: $(tail -n 5 "$D/log/mon-mkfs.out")"
}

do_osd_init() { # bluestore on a sparse 20 GiB file $D/osd.0/block
  local osd_uuid id
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$("${CEPH[@]}" osd new "$osd_uuid")
  [ "$id" = 0 ] || die "unexpected osd id '$id'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$D/log/osd-mkfs.out" 2>&1 \
    || die "ceph-osd --mkfs failed: $(tail -n 5 "$D/log/osd-mkfs.out")"
}

do_user() {
  radosgw-admin -c "$CONF" -n client.admin user create --uid=test --display-name=test \
    --access-key="$AK" --secret-key="$SK" >"$D/log/user-create.out" 2>&1 \
    || die "radosgw-admin user create failed: $(tail -n 5 "$D/log/user-create.out")"
}

do_forget_gateway() { # only while no radosgw runs: every watcher of its control objects is a dead one
  local i addrs a
  addrs=$(for i in $(seq 0 7); do rados -c "$CONF" -p default.rgw.control listwatchers "notify.$i" 2>/dev/null || true; done |
    sed -n 's/^watcher=\([^ ]*\) .*/\1/p' | sort -u)
  for a in $addrs; do "${CEPH[@]}" osd blocklist add "$a" >/dev/null 2>&1 || die "ceph osd blocklist add $a failed"; done
}

on_start_failure() {
  local f
  for f in "$D"/log/*; do [ -s "$f" ] && { echo "---- $f" >&2; tail -n 15 "$f" >&2; }; done
  S3_KEEP_DATA=1 do_stop
  log "start failed; logs kept in $D/log"
}

do_start() {
  [ -d "$D/pids" ] && do_stop
  for p in "$PORT" "$MON_PORT" $((MON_PORT + 1)); do
    port_open "$p" && die "127.0.0.1:$p is already in use"
  done
  rm -rf "$D"
  trap on_start_failure EXIT
  local t0=$SECONDS
  do_init
  spawn mon
  do_wait mon
  log "mon up after $((SECONDS - t0))s"
  do_osd_init
  spawn osd
  do_wait osd
  log "osd up after $((SECONDS - t0))s"
  spawn rgw # creates its pools on first start
  do_wait rgw
  do_user
  trap - EXIT
  cat >"$D/env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_REGION=us-east-1
EOF
  log "S3 ready at http://127.0.0.1:$PORT after $((SECONDS - t0))s (pids: mon $(cat "$D/pids/mon.pid") osd $(cat "$D/pids/osd.pid") rgw $(cat "$D/pids/rgw.pid"))"
  cat "$D/env"
}

do_status() {
  local name f rc=0
  for name in mon osd rgw; do
    f=$D/pids/$name.pid
    if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name running, pid $(cat "$f")"; else echo "$name not running"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  init) do_init ;;
  osd-init) do_osd_init ;;
  user) do_user ;;
  forget-gateway) do_forget_gateway ;;
  exec) do_exec "${2:-}" ;;
  wait) do_wait "${2:-}" ;;
  *) echo "usage: $0 install|start|stop|status | init|osd-init|user|forget-gateway|exec <mon|osd|rgw>|wait <mon|osd|rgw>" >&2; exit 2 ;;
esac
