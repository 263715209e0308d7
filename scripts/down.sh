#!/usr/bin/env bash
set -euo pipefail
pidfile=$1/berth.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill "$(cat "$pidfile")"; rm -f "$pidfile"; echo "berth stopped"
else
  echo "berth is not running"
fi
