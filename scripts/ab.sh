#!/bin/bash
# Alternating A/B runs of one s3d bench cell against two s3d binaries, each run on a fresh server
# and data dir on 127.0.0.1, so that the VM's drifting speed falls on both alike.
#   scripts/ab.sh OLD_BINARY NEW_BINARY OP SIZE CONCURRENCY ROUNDS
# e.g. git worktree add /tmp/old REV && (cd /tmp/old && ln -s "$PWD/node_modules" . && bun build.ts);
#      scripts/ab.sh /tmp/old/dist/s3d dist/s3d get 4KiB 32 5
# Prints one line a run: round, which binary, op/s, MiB/s, errors. AB_OBJECTS: distinct objects (default
# 200; the full run uses 8 of 64 MiB, 64 of 1 MiB), AB_PORT: the port (default 19520), AB_SERVER_ARGS: more
# flags for both servers (--encryption-key-file K).
set -euo pipefail
old=$1 new=$2 op=$3 size=$4 concurrency=$5 rounds=$6
port=${AB_PORT:-19520}
scratch=$(mktemp -d /tmp/s3d-ab-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for round in $(seq 1 "$rounds"); do
  for which in old new; do
    binary=$old; [ "$which" = new ] && binary=$new
    rm -rf "$scratch/data"
    # shellcheck disable=SC2086 # AB_SERVER_ARGS: more flags for both servers, split on spaces
    S3D_ACCESS_KEY=ABBENCHKEY S3D_SECRET_KEY=ab-bench-secret "$binary" --port "$port" --data-dir "$scratch/data" --log-level warn ${AB_SERVER_ARGS:-} >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/_s3d/health" && break; sleep 0.1; done
    result=$("$new" bench --endpoint "http://127.0.0.1:$port" --access-key ABBENCHKEY --secret-key ab-bench-secret \
      --op "$op" --size "$size" --concurrency "$concurrency" --duration 6s --objects "${AB_OBJECTS:-200}" --json 2>/dev/null || true)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$round $which $(echo "$result" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["opsPerSec"]), round(d["mibPerSec"]), d.get("errors"))')"
  done
done
