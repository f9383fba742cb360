# Scenario b: a v4.1 client holds a lock (ClientRecorded); nfsd restarts; the agent's GraceStart
# reply lists the client, whose reclaim is accepted (ReclaimAccepted) and completed; grace ends
# all-reclaimed long before nfsd's own grace time, and the agent writes Y to v4_end_grace.
P=gkb
check "agent starts" start_agent $P a --cld-pipe "$PIPE"
start_nfsd
check "nfsd uses nfsdcld" uses_cld
check "a v4.1 client mounts" mount_client
check "it takes a lock" take_lock "$MNT/b-file" b1
check "the client is recorded (ClientRecorded)" wait_until 60000 has_event $P ClientRecorded '"node":"a"'
Y_DONE='wrote Y to /proc/fs/nfsd/v4_end_grace\|already out of grace'
wrote_before=$(count "$Y_DONE" "$LOGS/agent-$P-a.log")

stop_nfsd
t0=$(now_ms)
start_nfsd
check "restarted nfsd uses nfsdcld" uses_cld
check "nfsd starts a grace period: the agent's GraceStart reply listed the client" bash -c "dmesg | tail -5 | grep -q 'starting $NFSD_GRACE-second grace period'"
# Any use of the mount makes the client find the new server instance and reclaim.
( ls "$MNT" > /dev/null 2>&1 & )
check "nfsd left grace (v4_end_grace reads Y)" wait_until 60000 end_grace_is Y
grace_ms=$(( $(now_ms) - t0 ))
note "nfsd restart to end of grace: $grace_ms ms (nfsd's own grace time: ${NFSD_GRACE} s)"
check "grace ended well before nfsd's own grace time" test "$grace_ms" -lt $(( NFSD_GRACE * 1000 / 3 ))
check "nfsd saw the client's RECLAIM_COMPLETE (all clients done reclaiming)" bash -c "dmesg | tail -5 | grep -q 'all clients done reclaiming'"
check "the client still holds its lock after nfsd's restart (write through it)" still_holds b1
check "the kernel did not drop the client's locks" bash -c "! dmesg | grep -q 'lost .* locks'"
check "the reclaim was accepted (ReclaimAccepted)" wait_until 30000 has_event $P ReclaimAccepted '"node":"a","recoveryEpoch":2'
check "the cluster's grace ended all-reclaimed" wait_until 30000 has_event $P GraceEnded '"recoveryEpoch":2,"reason":"all-reclaimed"'
check "the agent told nfsd (wrote Y to v4_end_grace, or found it out of grace)" wait_until 60000 grew "$Y_DONE" "$LOGS/agent-$P-a.log" "$wrote_before"
check "no write of Y failed" test "$(count 'writing Y to .* failed' "$LOGS/agent-$P-a.log")" -eq 0
check "another lock owner is refused the reclaimed lock" lock_refused "$MNT/b-file"
check "and granted a lock elsewhere (grace is over)" lock_granted "$MNT/b-free"
note "$(grep -E 'v4_end_grace|retrying|grace' "$LOGS/agent-$P-a.log" | tail -2 | cut -c12- | tr '\n' '|')"
