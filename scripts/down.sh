#!/usr/bin/env bash
# Stops the cluster of DATA_DIR: berth, its pods, containerd, mounts (berth down).
set -euo pipefail
data_dir=$1 berth=${2:-${CARGO_TARGET_DIR:-/var/tmp/berth-target}/release/berth}
[ -x "$berth" ] || berth=${CARGO_TARGET_DIR:-/var/tmp/berth-target}/debug/berth
"$berth" down --data-dir "$data_dir"
rm -f "$data_dir/berth.pid"
