#!/usr/bin/env bash
# Side-by-side benchmark (issue 7): builds dist/s3d, then runs the same workloads against s3d, the
# null server, s3rver (when installed) and Ceph RGW (when installed), plus the disk ceiling, and
# writes bench/RESULTS.md. --quick: a run of a few minutes with fewer cells. --targets s3d,rgw:
# only these targets (names as in the tables; "null" is both null servers).
# s3rver is found in node_modules, $S3RVER_DIR/node_modules or /tmp/s3rver-peer/node_modules
#   (mkdir -p /tmp/s3rver-peer && cd /tmp/s3rver-peer && npm i --no-save s3rver@3.7.1).
# Ceph RGW runs when radosgw, ceph-mon, ceph-osd (and their ceph, monmaptool, radosgw-admin) are on
#   PATH (Debian: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd): a throwaway
#   one-monitor, one-memstore-OSD cluster in a temp dir on 127.0.0.1, started by src/bench/rgw.ts
#   (about 20 s) and torn down after its cells. S3D_BENCH_RGW_MEMSTORE=4GiB overrides the memstore
#   size worked out from the cells.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
"$BUN" run build >/dev/null
exec "$BUN" src/bench/compare.ts "$@"
