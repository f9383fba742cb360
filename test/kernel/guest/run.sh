#!/bin/bash
# The guest's PID 1 after switch_root (see vm.ts): sets up nfsd's world, runs the scenarios named
# in $gk_scenarios (comma-separated, files in scenarios/) in order, then powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
cd /
. "$gk_repo/test/kernel/guest/lib.sh"
guest_setup
for scenario in ${gk_scenarios//,/ }; do
  if [ -f "$gk_repo/test/kernel/guest/scenarios/$scenario.sh" ]; then run_scenario "$scenario"
  else echo "GK-BEGIN $scenario"; echo "GK-CHECK $scenario FAILED: no such scenario"; echo "GK-END $scenario FAIL 0"; fi
done
echo GK-DONE
sync
echo o > /proc/sysrq-trigger
sleep 30
