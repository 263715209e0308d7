#!/usr/bin/env bash
# Starts `berth up` in the background and waits until the API server answers.
set -euo pipefail
berth=$1 data_dir=$2 port=$3
mkdir -p "$data_dir"
pidfile=$data_dir/berth.pid log=$data_dir/berth.log
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "berth is already running (pid $(cat "$pidfile")); 'make down' stops it"
else
  nohup "$berth" up --data-dir "$data_dir" --https-port "$port" >"$log" 2>&1 &
  echo $! >"$pidfile"
  echo "starting berth (pid $!, log $log)"
fi
for i in $(seq 1 100); do
  if [ -f "$data_dir/kubeconfig.yaml" ] && curl -sk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    echo "berth is up on https://127.0.0.1:$port"
    echo "  export KUBECONFIG=$data_dir/kubeconfig.yaml"
    echo "  kubectl get namespaces"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "berth exited; last lines of $log:" >&2; tail -20 "$log" >&2; exit 1
  fi
  sleep 0.2
done
echo "berth did not become ready in 20 s; see $log" >&2
exit 1
