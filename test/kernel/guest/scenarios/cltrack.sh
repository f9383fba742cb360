# Scenario c: no cld reader; nfsd's usermode helper (nfsd.cltrack_prog) is gk-cltrack, which asks
# the agent on its JSON socket (the default /run/gracekeeper/agent.sock: the kernel runs the
# helper with only the NFSDCLTRACK_* variables in its environment: no PATH, so the helper is a
# wrapper that runs node by its absolute path). The same lock survives an nfsd restart.
#
# cltrack_prog is written with printf, not echo: the kernel keeps a string parameter's trailing
# newline, so "echo path > .../cltrack_prog" names a program that does not exist; the usermode
# helper then fails with ENOENT, nfsd blanks cltrack_prog and falls back to legacy tracking (the
# recovery directory exists) without running anything. That was last session's mystery.
P=gkc
mkdir -p /run/gracekeeper
check "agent starts (JSON socket, no cld pipe)" start_agent $P a --json-socket /run/gracekeeper/agent.sock
# The helper as the kernel runs it, its arguments and stderr kept (gk-cltrack logs to stderr).
cat > /tmp/gk-cltrack <<WRAP
#!/bin/sh
echo "call: \$* (grace start \$NFSDCLTRACK_GRACE_START)" >> $LOGS/cltrack-calls.log
/usr/bin/node $gk_repo/bin/gk-cltrack.js "\$@" 2>> $LOGS/cltrack-calls.log
rc=\$?
echo "exit: \$rc" >> $LOGS/cltrack-calls.log
exit \$rc
WRAP
chmod 755 /tmp/gk-cltrack
env -i /tmp/gk-cltrack init
note "gk-cltrack init from a shell with an empty environment: exit $?"
printf %s /tmp/gk-cltrack > /sys/module/nfsd/parameters/cltrack_prog
check "cltrack_prog points at gk-cltrack" test "$(cat /sys/module/nfsd/parameters/cltrack_prog)" = /tmp/gk-cltrack
start_nfsd
check "nfsd uses the usermode helper" test "$TRACKING" = "UMH upcall"
check "gk-cltrack's init reached the agent (the cluster's first grace period)" wait_until 30000 has_event $P GraceStarted
check "a v4.1 client mounts" mount_client
check "it takes a lock" take_lock "$MNT/c-file" c1
check "the client is recorded through gk-cltrack (ClientRecorded)" wait_until 60000 has_event $P ClientRecorded '"node":"a"'

stop_nfsd
t0=$(now_ms)
start_nfsd
check "restarted nfsd uses the usermode helper" test "$TRACKING" = "UMH upcall"
check "nfsd starts a grace period" bash -c "dmesg | tail -5 | grep -q 'starting $NFSD_GRACE-second grace period'"
( ls "$MNT" > /dev/null 2>&1 & )
check "nfsd left grace (v4_end_grace reads Y)" wait_until 80000 end_grace_is Y
grace_ms=$(( $(now_ms) - t0 ))
note "nfsd restart to end of grace through gk-cltrack: $grace_ms ms (nfsd's own grace time: ${NFSD_GRACE} s)"
check "grace ended well before nfsd's own grace time" test "$grace_ms" -lt $(( NFSD_GRACE * 1000 * 2 / 3 ))
check "the client still holds its lock after nfsd's restart (write through it)" still_holds c1
check "the kernel did not drop the client's locks" bash -c "! dmesg | grep -q 'lost .* locks'"
check "the cluster's grace ended all-reclaimed" wait_until 30000 has_event $P GraceEnded '"recoveryEpoch":2,"reason":"all-reclaimed"'
check "the agent wrote Y to v4_end_grace" wait_until 30000 grep -q "wrote Y to /proc/fs/nfsd/v4_end_grace" "$LOGS/agent-$P-a.log"
check "another lock owner is refused the reclaimed lock" lock_refused "$MNT/c-file"
check "the kernel ran gk-cltrack for the client's reclaim (check) and its RECLAIM_COMPLETE (create)" grep -q '^call: check ' "$LOGS/cltrack-calls.log"
check "every run of gk-cltrack exited 0" test "$(grep '^exit:' "$LOGS/cltrack-calls.log" | grep -vc '^exit: 0')" -eq 0
check "nfsd never fell back to legacy tracking" bash -c "! dmesg | grep -q 'legacy client tracking'"
note "helper calls: $(tr '\n' '|' < $LOGS/cltrack-calls.log | cut -c1-1500)"
note "events: $(events $P | sed -n 's/.*"type":"\([A-Za-z]*\)".*/\1/p' | tr '\n' ' ')"

# bin/gk-cltrack.js itself as cltrack_prog (no wrapper): its "#!/usr/bin/env node" finds node
# with no PATH at all (env then searches /bin:/usr/bin).
release_locks
umount_client
stop_nfsd
printf %s "$gk_repo/bin/gk-cltrack.js" > /sys/module/nfsd/parameters/cltrack_prog
start_nfsd
check "with cltrack_prog = bin/gk-cltrack.js, nfsd uses the usermode helper" test "$TRACKING" = "UMH upcall"
printf %s /sbin/nfsdcltrack > /sys/module/nfsd/parameters/cltrack_prog
