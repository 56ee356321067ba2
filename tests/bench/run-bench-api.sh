#!/bin/sh
# Benchmarks of the xoc-api frontend (issue 5), label bench (`make bench`), each against a
# baseline measured in the same run (tests/bench/RESULTS.md):
#   getall  xo.getAllObjects of the whole pool (BENCH_VMS, default 15000 VMs: ≈ 60 000 objects)
#           vs a minimal Node `ws` server sending the same bytes / JSON.stringify + send
#   fanout  1 000 clients signed in on one xoc-api receiving `all` pushes while the simulator
#           makes 1 000 changes/s: stamped change -> each client, vs one client alone
#   rss     xoc-api's memory at 10 000 VMs next to the replica's bytes and the JSON cache
# getall: BENCH_KEEP=false runs xoc-api without api.getall_keep (no kept answer).
# Usage: run-bench-api.sh <build dir> <npm prefix dir> <source dir> getall|fanout|rss
set -eu
BUILD=$(cd "$1" && pwd)
PREFIX=$2
SRC=$3
MODE=$4
RUN=$(mktemp -d)
. "$SRC/tests/compat/stack.sh"
stack_npm "$PREFIX" ws@8.18.0
PREFIX=$(cd "$PREFIX" && pwd)
XOC_ADMIN_PASSWORD=bench-$$-secret
export XOC_ADMIN_PASSWORD

case $MODE in
getall) VMS=${BENCH_VMS:-15000}; stack_core "$BUILD" "$VMS" ;;
rss) VMS=${BENCH_VMS:-10000}; stack_core "$BUILD" "$VMS" ;;
fanout) VMS=${BENCH_VMS:-100}; stack_core "$BUILD" "$VMS" --hosts 2 ;;
*) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
# getall: debug log, for the time xoc-api spends building each answer (`getAllObjects ... us=`)
LEVEL=warn
KEEP=
[ "$MODE" = getall ] && LEVEL=debug && KEEP="--api.getall_keep=${BENCH_KEEP:-true}"
stack_api "$BUILD" api --api.send_queue_max 268435456 --log.level $LEVEL $KEEP ${BENCH_API_ARGS:-}
API_PID=$STACK_PID
NODE_PATH="$PREFIX/node_modules" stack_run node "$SRC/tests/bench/bench_api_$MODE.mjs" "$PREFIX/node_modules" \
  "$API_URL" "$SIM" "$XOC_ADMIN_PASSWORD" "$VMS" "$RUN" "$API_PID" "$BUILD" "$BUS"
