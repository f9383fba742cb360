# Scenario e: two nfsd in two network namespaces of one guest, exporting one directory, as two
# members (a: the root namespace, b: namespace s2) of one cluster; the guest kernel's own lock
# table stands for the cluster filesystem's lock manager (a lock taken through one nfsd conflicts
# with the other's). 1) A cluster-wide restart: both reclaim, and both leave grace together (the
# first one done waits, in grace, for the other). 2) b alone restarts: what a's nfsd, the
# survivor, does meanwhile (knfsd cannot be put in grace while it runs: docs/node-agent.md).
P=gke
MNT_B=/mnt/server-b
B_DIR=/run/gk-s2
is_client() { client_ids $P "$1" "${3:-.}" | grep -qx "$2"; }
# try_lock <file> <name>: a background attempt at a lock (blocking while the server answers
# GRACE: the client retries); $LOGS/try-<name> gets "GRANTED <ms>" or "REFUSED <errno> <ms>".
try_lock() {
  python3 -c 'import fcntl,sys,time
f=open(sys.argv[1],"a+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    r="GRANTED"
except OSError as e:
    r="REFUSED %d" % e.errno
open(sys.argv[2],"w").write("%s %d\n" % (r, time.time()*1000))
time.sleep(3600)' "$1" "$LOGS/try-$2" &
  echo $! > "$LOGS/lock-try-$2.pid"
}
tried() { test -s "$LOGS/try-$1"; }
outcome() { cut -d' ' -f1 "$LOGS/try-$1" 2>/dev/null; }
outcome_ms() { awk '{print $NF}' "$LOGS/try-$1"; }
a_in_grace_is() { NFSD_NS='' end_grace_is "$1"; }
b_in_grace_is() { NFSD_NS=s2 end_grace_is "$1"; }
both_out_of_grace() { a_in_grace_is Y && b_in_grace_is Y; }
not() { ! "$@"; }
graces_ended() { events $P | grep -c '"type":"GraceEnded"'; }
more_graces_ended() { test "$(graces_ended)" -gt "$1"; }
test_one_more_all_reclaimed() {
  test "$(graces_ended)" -eq $((ended_before_restart + 1)) && events $P | grep '"type":"GraceEnded"' | tail -1 | grep -q '"reason":"all-reclaimed"'
}
reclaims_of() { client_ids $P ReclaimAccepted "\"node\":\"$1\"" | grep -cx "$2"; }
more_reclaims_of() { test "$(reclaims_of "$1" "$2")" -gt "$3"; }

check "the cluster has members a and b (grace 60 s)" env GK_DEV_MODE=1 node "$gk_repo/bin/gracectl.js" --cluster c --prefix $P add --grace-time 60 --lease-time 10 a b
check "server b's network namespace, nfsd files, rpc_pipefs and mountd" server_netns s2 2
start_agent $P a --cld-pipe "$PIPE" & agent_a=$!
start_agent $P b --cld-pipe "$B_DIR/pipefs/nfsd/cld" --end-grace-file "$B_DIR/nfsd/v4_end_grace" & agent_b=$!
check "agent a starts" wait $agent_a
check "agent b starts" wait $agent_b
NFSD_GRACE=60 start_nfsd
check "nfsd a uses nfsdcld (agent a)" uses_cld
NFSD_GRACE=60 NFSD_NS=s2 start_nfsd
check "nfsd b uses nfsdcld (agent b)" uses_cld
check "client A mounts a" mount_client
mkdir -p "$MNT_B"
check "client B mounts b" mount -t nfs4 -o vers=4.1,soft,timeo=50,retrans=3 10.9.2.2:/ "$MNT_B"
check "A locks e-a through a" take_lock "$MNT/e-a" ea
check "B locks e-b through b" take_lock "$MNT_B/e-b" eb
check "one lock table: A is refused e-b through a" lock_refused "$MNT/e-b"
check "a's client is recorded" wait_until 60000 has_event $P ClientRecorded '"node":"a"'
check "b's client is recorded" wait_until 60000 has_event $P ClientRecorded '"node":"b"'
client_a=$(client_ids $P ClientRecorded '"node":"a"' | head -1)
client_b=$(client_ids $P ClientRecorded '"node":"b"' | head -1)

ended_before_restart=$(graces_ended)
# 1) Cluster-wide restart. Both members are put in grace first, as an operator would: nfsd
#    joins the cluster's grace at its own start, so a member whose clients all reclaimed before
#    the other's nfsd started would otherwise end the grace alone (seen: A reclaims ~2 s after
#    a's start). B is cut off from b for a while, so that a is done first.
check "gracectl start a b: the cluster-wide grace begins" env GK_DEV_MODE=1 node "$gk_repo/bin/gracectl.js" --cluster c --prefix $P start a b
cut_netns s2
stop_nfsd; NFSD_NS=s2 stop_nfsd
NFSD_GRACE=60 start_nfsd
check "restarted nfsd a uses nfsdcld" uses_cld
NFSD_GRACE=60 NFSD_NS=s2 start_nfsd
check "restarted nfsd b uses nfsdcld" uses_cld
check "both start a grace period (dmesg, each namespace)" bash -c "dmesg | tail -8 | grep -q 'starting 60-second grace period (net $(netns_id))' && dmesg | tail -8 | grep -q 'starting 60-second grace period (net $(netns_id s2))'"
( ls "$MNT" > /dev/null 2>&1 & )
# A's RECLAIM_COMPLETE makes nfsd a end its grace, whose GraceDone upcall the agent answers only
# once the cluster's grace ended: until then nfsd a stays in grace and A's recovery waits.
check "A reclaims through a (ReclaimAccepted)" wait_until 60000 is_client ReclaimAccepted "$client_a" '"node":"a"'
sleep 3
check "the cluster's grace has not ended" not more_graces_ended "$ended_before_restart"
note "nfsd a's v4_end_grace meanwhile: $(cat /proc/fs/nfsd/v4_end_grace) (Y once nfsd decided to end grace, before its GraceDone upcall is answered)"
try_lock "$MNT/e-new" new1
sleep 5
check "a new lock through a is not granted while b's client has not reclaimed" not tried new1
joined_ms=$(now_ms)
join_netns s2
( ls "$MNT_B" > /dev/null 2>&1 & )
check "B reclaims through b" wait_until 90000 is_client ReclaimAccepted "$client_b" '"node":"b"'
check "both nfsd leave grace" wait_until 60000 both_out_of_grace
note "both out of grace $(( $(now_ms) - joined_ms )) ms after B's link came back"
check "the cluster's grace ended, once, all-reclaimed" wait_until 30000 test_one_more_all_reclaimed
check "the new lock through a is granted once grace ended" wait_until 60000 tried new1
check "... and only then" test "$(outcome new1)" = GRANTED -a "$(outcome_ms new1)" -ge "$joined_ms"
check "A still holds e-a" still_holds ea
check "B still holds e-b" still_holds eb
check "both dmesg: all clients done reclaiming" bash -c "test \$(dmesg | grep -c 'all clients done reclaiming') -ge 2"
note "events: $(events $P | sed -n 's/.*"type":"\([A-Za-z]*\)".*/\1/p' | tr '\n' ' ')"

# 2) b alone restarts while a runs. The cluster is in grace (every member enforces in its view),
#    but knfsd a is not: it has no upcall before a non-reclaim grant and cannot re-enter grace
#    while it runs. What it does is recorded here, and documented.
cut_netns s2
ended_before=$(graces_ended)
b_reclaims_before=$(reclaims_of b "$client_b")
NFSD_NS=s2 stop_nfsd
NFSD_GRACE=60 NFSD_NS=s2 start_nfsd
check "restarted nfsd b uses nfsdcld" uses_cld
check "b is in grace" b_in_grace_is N
check "the cluster is in grace again (GraceStarted for b)" wait_until 30000 has_event $P GraceStarted '"nodes":\["b"\]'
check "knfsd a stays out of grace (it cannot be told to enter it)" a_in_grace_is Y
try_lock "$MNT/e-new2" new2
check "knfsd a answers a new lock during the cluster's grace" wait_until 30000 tried new2
check "... and grants it: a running knfsd cannot enforce the cluster's grace" test "$(outcome new2)" = GRANTED
check "it even grants e-b, B's lock not yet reclaimed (b's locks left the lock table with its nfsd)" lock_granted "$MNT/e-b"
join_netns s2
( ls "$MNT_B" > /dev/null 2>&1 & )
check "B reclaims e-b through b (nobody holds it now)" wait_until 90000 more_reclaims_of b "$client_b" "$b_reclaims_before"
check "the cluster's grace ends once b is done" wait_until 60000 more_graces_ended "$ended_before"
check "B holds e-b again" still_holds eb
note "events: $(events $P | sed -n 's/.*"type":"\([A-Za-z]*\)".*/\1/p' | tr '\n' ' ')"
