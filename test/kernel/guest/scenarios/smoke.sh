# Boot check: nfsd starts and a client mounts (no agent).
start_nfsd
check "nfsd started" test -n "$TRACKING"
check "client mounts" mount_client
echo hello > $MNT/hello
check "write through NFS" grep -q hello $EXPORT/hello
