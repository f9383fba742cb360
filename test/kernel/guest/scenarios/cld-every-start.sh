# Scenario a: nfsd uses the agent's cld pipe on every start: when the agent came up after nfsd
# (from nfsd's next start on), on restarts in the same boot, and after the agent restarted while
# nfsd ran. (Starting the agent takes tens of seconds under TCG: it is started only twice.)
P=gka

# nfsd first, no agent: the kernel waits ~500 ms for a cld reader, then uses the usermode helper.
start_nfsd
check "with no agent, nfsd falls back to the usermode helper" test "$TRACKING" = "UMH upcall"
check "agent started after nfsd" start_agent $P a --cld-pipe "$PIPE"
stop_nfsd
start_nfsd
check "agent started after nfsd: nfsd's next start uses nfsdcld (the agent)" uses_cld

for i in 1 2; do
  stop_nfsd
  start_nfsd
  check "restart $i in the same boot: nfsd uses nfsdcld" uses_cld
done
check "the agent opened each new pipe" test "$(count "cld pipe $PIPE open" "$LOGS/agent-$P-a.log")" -ge 3
check "and noticed each old pipe go" test "$(count "cld pipe $PIPE was" "$LOGS/agent-$P-a.log")" -ge 2

# The agent restarts while nfsd runs: the new agent opens the pipe nfsd still has, and serves it.
stop_agent $P a
opened_before=$(count "cld pipe $PIPE open" "$LOGS/agent-$P-a.log")
check "agent restarted while nfsd runs" start_agent $P a --cld-pipe "$PIPE"
check "the new agent opened the running nfsd's pipe" wait_until 10000 grew "cld pipe $PIPE open" "$LOGS/agent-$P-a.log" "$opened_before"
check "a v4.1 client mounts" mount_client
check "its lock is granted" take_lock "$MNT/a-file" a1
check "nfsd's Create upcall reached the restarted agent (ClientRecorded)" wait_until 60000 has_event $P ClientRecorded '"node":"a"'
release_locks
umount_client
stop_nfsd
start_nfsd
check "after the agent's restart, nfsd's next start uses nfsdcld" uses_cld
