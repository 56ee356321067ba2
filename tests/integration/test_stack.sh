#!/usr/bin/env bash
# The stack launcher behind `make up`: starts the bus and the services, they are alive and on
# the bus while it runs, and it leaves no process behind when it stops (by itself or on a
# signal). Usage: test_stack.sh SOURCE_DIR BUILD_DIR
set -u
src=$1; build=$2
run=$(mktemp -d); trap 'rm -rf "$run"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }

"$src/tools/xoc-stack" --build "$build" --bus 'tcp://127.0.0.1:*' --run-dir "$run/a" \
    --exit-after 600 > "$run/a.out" 2>&1 &
launcher=$!
for _ in $(seq 100); do grep -q "xoc is up" "$run/a.out" && break; sleep 0.1; done
check "launcher reports the stack up" 'grep -q "xoc is up" "$run/a.out"'
ep=$(sed -n 's/^  xoc-bus *\([^ ]*\).*/\1/p' "$run/a.out")
check "bus endpoint printed" '[ -n "$ep" ]'
check "services publish heartbeats on the bus" \
    '"$build/tools/xoc-events/xoc-events" --bus.endpoint "$ep" --count 1 --timeout 10 sys.bus.heartbeat | grep -q "\"state\":\"heartbeat\""'
if [ -x "$build/services/collector/xoc-collector" ] && [ -x "$build/tools/xapi-sim/xapi-sim" ]; then
    connected=0
    for _ in $(seq 100); do
        connected=$("$build/tools/xoc-call/xoc-call" --bus.endpoint "$ep" collector collector.status \
                    | grep -o '"status":"connected"' | wc -l)
        [ "$connected" -ge 2 ] && break
        sleep 0.2
    done
    check "the collector is connected to both simulated pools ($connected)" '[ "$connected" -ge 2 ]'
    check "object changes flow on the bus (xoc-events obj.)" \
        '"$build/tools/xoc-events/xoc-events" --bus.endpoint "$ep" --count 1 --timeout 20 obj. | grep -q "\"t\":\"obj\""'
fi
urls=$(sed -n 's|^ *xoc-[a-z]* *\(http://[^ ]*/metrics\)$|\1|p' "$run/a.out")
check "metrics URLs printed for every service ($(echo $urls | wc -w))" '[ "$(echo $urls | wc -w)" -ge 2 ]'
for u in $urls; do
    check "$u answers the Prometheus text format" \
        'curl -sf --max-time 10 "$u" | grep -q "^# TYPE xoc_service_info gauge"'
done
kill -TERM $launcher; wait $launcher; rc=$?
check "SIGTERM (as Ctrl-C) stops the launcher cleanly (rc=$rc)" '[ $rc -eq 130 ] || [ $rc -eq 143 ] || [ $rc -eq 0 ]'
alive=""
while read -r pid name; do kill -0 "$pid" 2>/dev/null && alive="$alive $name($pid)"; done < "$run/a/pids"
check "no stray process after SIGTERM ($alive)" '[ -z "$alive" ]'

"$src/tools/xoc-stack" --build "$build" --bus 'tcp://127.0.0.1:*' --run-dir "$run/b" --exit-after 1 > "$run/b.out" 2>&1
check "--exit-after stops by itself with status 0" '[ $? -eq 0 ]'
alive=""
while read -r pid name; do kill -0 "$pid" 2>/dev/null && alive="$alive $name($pid)"; done < "$run/b/pids"
check "no stray process after --exit-after ($alive)" '[ -z "$alive" ]'

echo "stack: $pass passed, $fail failed"
[ $fail -eq 0 ]
