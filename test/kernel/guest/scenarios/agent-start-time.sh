# A measurement, not in the suite (GK_KERNEL_SCENARIOS=agent-start-time): how long loading the
# node-agent takes under emulation (`--help` loads every static import), this checkout's build
# against one in .tmp/kernel-before (e.g. the commit before NestJS was loaded lazily).
for build in "$gk_repo" "$gk_repo/.tmp/kernel-before"; do
  [ -f "$build/dist/apps/node-agent/src/main.js" ] || continue
  times=""
  for i in 1 2 3; do
    t0=$(now_ms)
    node "$build/dist/apps/node-agent/src/main.js" --help > /dev/null
    times="$times $(( $(now_ms) - t0 ))"
  done
  note "node-agent --help in ms ($build):$times"
done
