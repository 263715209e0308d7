#!/usr/bin/env bash
# Installs what berth needs on Debian 12 when it is missing (idempotent, quiet when all is there).
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# containerd + runc + CNI plugins + nftables: the node agent's runtime pieces;
# etcd-server: the etcd datastore's tests; protobuf-compiler: CRI bindings.
for p in containerd runc containernetworking-plugins nftables iproute2 etcd-server protobuf-compiler busybox-static docker-registry; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "berth needs these Debian packages: ${need[*]} — run as root or install them first" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The packaged etcd must not hold port 2379 for itself: tests start their own.
if systemctl is-active --quiet etcd 2>/dev/null; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust (rustup) first" >&2
  exit 1
fi
if ! command -v kubectl >/dev/null; then
  echo "note: kubectl is not on PATH; the kubectl tests will be skipped with a message" >&2
fi
