#!/usr/bin/env bash
# Side-by-side benchmark (issue 7): builds dist/s3d, then runs the same workloads against s3d, the
# null server, s3rver (when installed) and Ceph RGW (when installed), plus the disk ceiling, and
# writes bench/RESULTS.md. --quick: a 1-2 minute run with fewer cells.
# s3rver is found in node_modules, $S3RVER_DIR/node_modules or /tmp/s3rver-peer/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
"$BUN" run build >/dev/null
exec "$BUN" src/bench/compare.ts "$@"
