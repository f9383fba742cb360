# Helpers for the guest's scenarios (sourced by run.sh; bash). Console markers read by vm.ts:
#   GK-BEGIN <scenario>            a scenario starts
#   GK-CHECK <scenario> ok|FAILED: <what>
#   GK-NOTE <scenario>: <text>     timings and facts worth keeping
#   GK-END <scenario> PASS|FAIL <ms>
# The checkout is $gk_repo (read-only here: the host's root over 9p, writes go to a tmpfs overlay).

PIPE_DIR=/var/lib/nfs/rpc_pipefs/nfsd
PIPE=$PIPE_DIR/cld
EXPORT=/srv/export
MNT=/mnt/nfs
LOGS=/tmp/gk
NFSD_GRACE=${NFSD_GRACE:-90}
NFSD_LEASE=${NFSD_LEASE:-10}

now_ms() { date +%s%3N; }
note() { echo "GK-NOTE $SCENARIO: $*"; }
# Each check line ends with the seconds since the scenario began (where the time goes).
check() {
  local what=$1 status=ok; shift
  "$@" || { status=FAILED; FAILED=1; }
  echo "GK-CHECK $SCENARIO $status: $what [$(( ($(now_ms) - SCENARIO_T0) / 1000 )) s]"
}
# wait_until <ms> <command...>: true once the command is, false after ms. The arguments are
# expanded once, by the caller: a condition that must be looked at again each time is a function.
wait_until() {
  local end=$(( $(now_ms) + $1 )); shift
  until "$@"; do [ "$(now_ms)" -ge "$end" ] && return 1; sleep 0.1; done
}
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }
# grew <pattern> <file> <before>: the file has more lines matching than before.
grew() { test "$(count "$1" "$2")" -gt "$3"; }

guest_setup() {
  mount -t proc proc /proc
  mount -t sysfs sys /sys
  mount -t devtmpfs dev /dev
  mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
  # The checkout may live under a directory the tmpfs mounts below hide (a CI clone in /tmp):
  # bind it to a fixed place first, and use that from here on.
  mkdir -p /gk-repo && mount --bind "$gk_repo" /gk-repo && gk_repo=/gk-repo && export gk_repo
  for d in /tmp /run /var/lib/nfs /srv /mnt /var/tmp; do mount -t tmpfs tmpfs "$d"; done
  mkdir -p "$LOGS" "$EXPORT" "$MNT" /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery /run/rpcbind
  ip link set lo up
  modprobe nfsd && modprobe nfsv4 || echo "GK-BOOT-FAILED modprobe"
  mount -t nfsd nfsd /proc/fs/nfsd
  mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs
  rpcbind -w
  # 10.9.0.0/16: clients in network namespaces of their own (client_netns below).
  local opts=rw,fsid=0,no_subtree_check,no_root_squash,insecure,sync
  echo "$EXPORT 127.0.0.1($opts) 10.9.0.0/16($opts)" > /etc/exports
  exportfs -ra
  rpc.mountd -N 2 -N 3
  nats-server -js -sd /tmp/nats -a 127.0.0.1 -p 4222 > "$LOGS/nats.log" 2>&1 &
  wait_until 30000 bash -c 'echo > /dev/tcp/127.0.0.1/4222' 2>/dev/null || echo "GK-BOOT-FAILED nats-server"
  echo "GK-KERNEL $(uname -r)"
}

# --- node-agent -------------------------------------------------------------------------------
# start_agent <prefix> <node> [agent flags...]: one agent of cluster "c" in deployment <prefix>;
# returns once it logged "ready". Its stderr is $LOGS/agent-<prefix>-<node>.log.
start_agent() {
  local prefix=$1 node=$2; shift 2
  local log=$LOGS/agent-$prefix-$node.log
  touch "$log"
  local before t0; before=$(count 'ready:' "$log"); t0=$(now_ms)
  # Development mode on the guest's own loopback NATS (stream created on demand, announced), the
  # node joins the cluster by itself, and the socket in a directory the agent creates 0750 (the
  # guest's /run is a world-writable tmpfs, which the agent refuses to put a socket in).
  GK_DEV_MODE=1 GK_AUTO_JOIN=1 GK_NODE=$node GK_CLUSTER=c GK_PREFIX=$prefix NATS_URL=nats://127.0.0.1:4222 \
    node "$gk_repo/bin/gk-node-agent.js" --json-socket "/run/gk-$prefix-$node/agent.sock" --admin-port off "$@" >> "$log" 2>&1 &
  echo $! > "$LOGS/agent-$prefix-$node.pid"
  wait_until 300000 grew 'ready:' "$log" "$before" || return 1
  note "agent $prefix/$node ready in $(( $(now_ms) - t0 )) ms"
}
stop_agent() {
  local pid; pid=$(cat "$LOGS/agent-$1-$2.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null
  wait_until 15000 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
  rm -f "$LOGS/agent-$1-$2.pid"
}
agent_log() { cat "$LOGS/agent-$1-$2.log"; }

# --- nfsd -------------------------------------------------------------------------------------
tracking_lines() { dmesg | grep -c 'client tracking operations'; }
tracking_grew() { test "$(tracking_lines)" -gt "$1"; }
# nfsd in the root network namespace, or with NFSD_NS=<ns> in that namespace (server_netns):
# its control files are then mounted at /run/gk-<ns>/nfsd, and nfs-utils, which only know
# /proc/fs/nfsd, run in the namespace with those bound there.
nfsd_dir() { if [ -n "$NFSD_NS" ]; then echo "/run/gk-$NFSD_NS/nfsd"; else echo /proc/fs/nfsd; fi; }
in_nfsd_ns() {
  if [ -z "$NFSD_NS" ]; then "$@"; return; fi
  ip netns exec "$NFSD_NS" sh -c 'mount --bind "$0" /proc/fs/nfsd && exec "$@"' "$(nfsd_dir)" "$@"
}
# start_nfsd: sets TRACKING to what nfsd chose ("nfsdcld", "UMH upcall", "legacy") and
# NFSD_START_MS to how long rpc.nfsd took.
start_nfsd() {
  echo "$NFSD_GRACE" > "$(nfsd_dir)/nfsv4gracetime"
  echo "$NFSD_LEASE" > "$(nfsd_dir)/nfsv4leasetime"
  local before t0; before=$(tracking_lines); t0=$(now_ms)
  in_nfsd_ns rpc.nfsd -N 3 -V 4.1 4 || { TRACKING="rpc.nfsd failed"; return 1; }
  NFSD_START_MS=$(( $(now_ms) - t0 ))
  wait_until 20000 tracking_grew "$before" || { TRACKING="none logged"; return 1; }
  TRACKING=$(dmesg | grep 'client tracking operations' | tail -1 | sed 's/.*Using \(.*\) client tracking.*/\1/')
  note "nfsd${NFSD_NS:+ in $NFSD_NS} started in ${NFSD_START_MS} ms, client tracking: $TRACKING"
}
stop_nfsd() { in_nfsd_ns rpc.nfsd 0; }
uses_cld() { [ "$TRACKING" = nfsdcld ]; }
end_grace_is() { [ "$(cat "$(nfsd_dir)/v4_end_grace" 2>/dev/null)" = "$1" ]; }

# server_netns <ns> <n>: a namespace for a second nfsd (10.9.<n>.2, reached from the root
# namespace through a veth), with its own nfsd control files and rpc_pipefs (both are per
# network namespace: mounted from inside it) under /run/gk-<ns>, and its own rpc.mountd (the
# export caches are per namespace too). The export table is the same /etc/exports.
server_netns() {
  local ns=$1 dir=/run/gk-$1
  client_netns "$ns" "$2" || return 1
  mkdir -p "$dir/nfsd" "$dir/pipefs"
  nsenter --net="/run/netns/$ns" mount -t nfsd nfsd "$dir/nfsd" &&
    nsenter --net="/run/netns/$ns" mount -t rpc_pipefs sunrpc "$dir/pipefs" &&
    NFSD_NS=$ns in_nfsd_ns sh -c 'exportfs -ra && rpc.mountd -N 2 -N 3'
}
# The "(net …)" nfsd's dmesg lines name: the namespace's inode number in hex.
netns_id() {
  if [ -z "$1" ]; then printf '%x' "$(stat -L -c %i /proc/self/ns/net)"; else printf '%x' "$(stat -L -c %i "/run/netns/$1")"; fi
}

# --- NFS client -------------------------------------------------------------------------------
mount_client() { mount -t nfs4 -o vers=4.1,soft,timeo=50,retrans=3 127.0.0.1:/ "$MNT"; }
umount_client() { umount -f "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; }
# take_lock <file> <name>: a lock holder process; its reports go to $LOGS/lock-<name>.
take_lock() {
  local report=$LOGS/lock-$2
  : > "$report"
  python3 "$gk_repo/test/kernel/guest/lock-holder.py" "$1" "$report" &
  echo $! > "$LOGS/lock-$2.pid"
  wait_until 30000 grep -q 'LOCKED\|LOCK-REFUSED' "$report" && grep -q LOCKED "$report"
}
# still_holds <name>: the holder writes through its locked fd (EIO if the lock was lost).
still_holds() {
  local report=$LOGS/lock-$1 before
  before=$(count 'WRITE-' "$report")
  kill -USR1 "$(cat "$LOGS/lock-$1.pid")" || return 1
  wait_until 60000 grew 'WRITE-' "$report" "$before" || return 1
  tail -1 "$report" | grep -q WRITE-OK
}
# lock_refused <file>: another lock owner is refused the lock right now.
lock_granted() { ! lock_refused "$1"; }
lock_refused() {
  python3 -c 'import fcntl,sys
f=open(sys.argv[1],"a+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    sys.exit(0 if e.errno in (11, 13) else 2)
sys.exit(1)' "$1"
}
release_locks() {
  for p in "$LOGS"/lock-*.pid; do [ -e "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null; rm -f "$p"; done
}

# --- clients in network namespaces of their own ------------------------------------------------
# An NFS client is one per network namespace and server: a second client on this guest lives in
# a namespace joined to the root one by a veth (server side 10.9.<n>.1, client side 10.9.<n>.2),
# with its own host name (the NFSv4.1 client owner is "Linux NFSv4.1 <nodename>": two clients
# with one name would be one client rebooting, to the server).
client_netns() {
  local ns=$1 n=$2
  ip netns add "$ns" &&
    ip link add "gk-$ns" type veth peer name eth0 netns "$ns" &&
    ip addr add "10.9.$n.1/24" dev "gk-$ns" && ip link set "gk-$ns" up &&
    ip -n "$ns" addr add "10.9.$n.2/24" dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
}
# mount_from_netns <ns> <n> <dir>: mounts the root namespace's nfsd (10.9.<n>.1) on <dir> (in the
# guest's one mount namespace) as a client of <ns>; processes anywhere use it through <ns>'s link.
mount_from_netns() {
  mkdir -p "$3"
  nsenter --net="/run/netns/$1" unshare --uts sh -c "hostname gk-$1 && mount -t nfs4 -o vers=4.1,soft,timeo=50,retrans=3 10.9.$2.1:/ $3"
}
# cut_netns / join_netns <ns>: the client's link down (nothing reaches the server) and up again.
cut_netns() { ip link set "gk-$1" down; }
join_netns() { ip link set "gk-$1" up; }
drop_netns() { ip link del "gk-$1" 2>/dev/null; ip netns del "$1" 2>/dev/null; true; }

# --- the event log ----------------------------------------------------------------------------
# The scenario's prefix has one follower (run_scenario starts it) appending each event to a file
# as it is stored: reading that file costs nothing, where a Node start costs seconds under TCG.
follow_events() {
  [ -e "$LOGS/events-$1.pid" ] && return
  node "$gk_repo/test/kernel/guest/events.js" "$1" --follow > "$LOGS/events-$1.jsonl" 2> "$LOGS/events-$1.err" &
  echo $! > "$LOGS/events-$1.pid"
}
events() {
  if [ -e "$LOGS/events-$1.pid" ]; then cat "$LOGS/events-$1.jsonl"; else node "$gk_repo/test/kernel/guest/events.js" "$1" 2>&1; fi
}
# has_event <prefix> <type> [extended regexp the event's line must also match]
has_event() { events "$1" | grep "\"type\":\"$2\"" | grep -Eq -- "${3:-.}"; }
# client_ids <prefix> <type> [extended regexp]: the client ids of the matching events, one a line
# (ClientRecorded lists {client,…} objects; the other events plain ids).
client_ids() {
  events "$1" | grep "\"type\":\"$2\"" | grep -E -- "${3:-.}" |
    python3 -c 'import json,sys
for line in sys.stdin:
    for c in json.loads(line).get("clients", []):
        print(c["client"] if isinstance(c, dict) else c)'
}

run_scenario() {
  SCENARIO=$1 FAILED=0 P=
  local t0; t0=$(now_ms)
  SCENARIO_T0=$t0
  echo "GK-BEGIN $SCENARIO"
  local dmesg_before; dmesg_before=$(dmesg | wc -l)
  P=$(sed -n 's/^P=\([a-z0-9-]*\).*/\1/p' "$gk_repo/test/kernel/guest/scenarios/$SCENARIO.sh" | head -1)
  [ -n "$P" ] && follow_events "$P"
  ( . "$gk_repo/test/kernel/guest/scenarios/$SCENARIO.sh"; exit "$FAILED" )
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- dmesg during $SCENARIO"; dmesg | tail -n +$((dmesg_before + 1)) | tail -40
    for f in "$LOGS"/agent-*.log; do [ -e "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done
    [ -n "$P" ] && { echo "--- events of $P"; events "$P" | cut -c1-300 | tail -30; }
  fi
  # Leave nothing behind for the next scenario.
  release_locks
  umount_client
  stop_nfsd 2>/dev/null
  local d m ns
  for d in /run/gk-*/nfsd; do [ -d "$d" ] && { ns=${d#/run/gk-}; NFSD_NS=${ns%/nfsd} stop_nfsd 2>/dev/null; }; done
  for m in $(awk '$3 == "nfs4" {print $2}' /proc/mounts); do umount -f "$m" 2>/dev/null || umount -l "$m"; done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do drop_netns "$ns"; done
  for p in "$LOGS"/agent-*.pid "$LOGS"/events-*.pid; do [ -e "$p" ] && { kill -KILL "$(cat "$p")" 2>/dev/null; rm -f "$p"; }; done
  local ms=$(( $(now_ms) - t0 ))
  if [ "$status" -eq 0 ]; then echo "GK-END $SCENARIO PASS $ms"; else echo "GK-END $SCENARIO FAIL $ms"; fi
}
