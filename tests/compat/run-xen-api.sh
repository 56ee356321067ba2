#!/bin/sh
# Runs the npm xen-api compatibility test against a fresh xapi-sim on free ports.
# Usage: run-xen-api.sh <xapi-sim binary> <npm prefix dir> <test .mjs>
set -eu
SIM=$1
PREFIX=$2
TEST=$3
XEN_API_VERSION=4.7.6

mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
if [ ! -f "$PREFIX/node_modules/xen-api/index.mjs" ]; then
  npm install --silent --no-audit --no-fund --prefix "$PREFIX" "xen-api@$XEN_API_VERSION" >&2
fi

OUT=$(mktemp)
"$SIM" --hosts 2 --vms 50 --port 0 --disk-size 33554432 --log-level warn >"$OUT" 2>"${SIM_STDERR:-/dev/stderr}" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -f "$OUT"' EXIT INT TERM

i=0
until grep -q '^xapi-sim: ready' "$OUT"; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 $PID 2>/dev/null; then
    echo "xapi-sim did not start" >&2
    exit 1
  fi
  sleep 0.05
done
MASTER=$(sed -n 's/.*master=1 url=\(.*\)$/\1/p' "$OUT" | head -1)
SLAVE=$(sed -n 's/.*master=0 url=\(.*\)$/\1/p' "$OUT" | head -1)

RC=0
for transport in json-rpc xml-rpc; do
  node "$TEST" "$PREFIX/node_modules/xen-api/index.mjs" "$MASTER" "$SLAVE" "$transport" || RC=1
done
exit $RC
