# Shell helpers to run a whole xoc stack on loopback for a test or a benchmark (sourced, POSIX sh):
# `stack_start NAME PREFIX CMD...` runs CMD in the background, its stdout in $RUN/NAME.out and
# stderr in $RUN/NAME.log, and waits (deadline 40 s) for a stdout line starting with PREFIX;
# `stack_free_port` prints a free TCP port of 127.0.0.1; every process started is stopped
# (TERM, then KILL after 5 s) on exit. Needs $RUN (a fresh directory) and $NODE_MODULES for
# stack_free_port; sets $STACK_PID to the pid of the last process started.
STACK_PIDS=""
stack_stop_all() {
  for p in $STACK_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $STACK_PIDS; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # a sanitizer report in a service's log fails the test: the clients' checks cannot see a
  # leak, or a bad read that did not crash (ASan builds: make check-asan)
  _san=$(grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$RUN"/*.log 2>/dev/null || true)
  if [ -n "$_san" ]; then
    echo "sanitizer reports in: $_san" >&2
    grep -hE -A30 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" $_san | head -80 >&2
  fi
  if [ "${KEEP_RUN:-}" = "" ]; then rm -rf "$RUN"; else echo "run dir: $RUN" >&2; fi
  [ -z "$_san" ] || exit 1
}
trap stack_stop_all EXIT
trap 'exit 1' INT TERM

stack_start() {
  _name=$1 _prefix=$2
  shift 2
  "$@" >"$RUN/$_name.out" 2>"$RUN/$_name.log" &
  STACK_PID=$!
  STACK_PIDS="$STACK_PID $STACK_PIDS"
  _i=0
  until grep -q "^$_prefix" "$RUN/$_name.out" 2>/dev/null; do
    _i=$((_i + 1))
    if [ $_i -gt 800 ] || ! kill -0 "$STACK_PID" 2>/dev/null; then
      echo "$_name did not start; its log:" >&2
      tail -n 20 "$RUN/$_name.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

stack_free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# stack_core BUILD VMS [SIM FLAGS...]: xapi-sim (2 hosts), xoc-bus, xoc-cache, xoc-collector;
# sets BUS, SIM (the pool master's URL) and configures the pool as server "sim1".
stack_core() {
  _build=$1 _vms=$2
  shift 2
  stack_start sim "xapi-sim: ready" "$_build/tools/xapi-sim/xapi-sim" --port 0 --vms "$_vms" \
    --log-level warn "$@"
  stack_start bus "xoc-bus: ready" "$_build/services/bus/xoc-bus" --bus.listen 'tcp://127.0.0.1:*' \
    --log.level warn
  BUS=$(sed -n 's/^xoc-bus: ready bus=//p' "$RUN/bus.out")
  stack_start cache "xoc-cache: ready" "$_build/services/cache/xoc-cache" --bus.endpoint "$BUS" \
    --cache.path "$RUN/cache" --log.level warn
  stack_start collector "xoc-collector: ready" "$_build/services/collector/xoc-collector" \
    --bus.endpoint "$BUS" --log.level warn
  SIM=$(sed -n 's/.*master=1 url=\(.*\)$/\1/p' "$RUN/sim.out" | head -1)
  "$_build/tools/xoc-call/xoc-call" --bus.endpoint "$BUS" cache config.set \
    '{"t":"cfg","db":"servers","key":"sim1","value":{"host":"'"$SIM"'","username":"root","password":"password","label":"sim"}}' \
    >/dev/null
}

# stack_api BUILD NAME [FLAGS...]: one xoc-api on a free port; sets API_URL and STACK_PID.
stack_api() {
  _build=$1 _name=$2
  shift 2
  stack_start "$_name" "xoc-api: ready" "$_build/services/api/xoc-api" --bus.endpoint "$BUS" \
    --api.listen 127.0.0.1:0 --log.level warn "$@"
  API_URL=$(sed -n 's/^xoc-api: ready url=//p' "$RUN/$_name.out")
}

# stack_run CMD...: runs CMD in the background and waits for it (so that a TERM or INT sent
# to the script stops the stack at once instead of after CMD); returns CMD's status.
stack_run() {
  "$@" &
  _run=$!
  STACK_PIDS="$_run $STACK_PIDS"
  _rc=0
  wait "$_run" || _rc=$?
  return $_rc
}

# stack_npm PREFIX PKG@VERSION...: installs the npm packages once into PREFIX.
stack_npm() {
  _prefix=$1
  shift
  mkdir -p "$_prefix"
  for _p in "$@"; do
    if [ ! -f "$_prefix/node_modules/${_p%@*}/package.json" ]; then
      npm install --silent --no-audit --no-fund --prefix "$_prefix" "$@" >&2
      return
    fi
  done
}
