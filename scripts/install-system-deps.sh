#!/usr/bin/env bash
# Install the Debian packages the tests need (the XRootD server), when missing.
# The list lives in deployments/xrootd/debian-packages.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v xrootd >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: the XRootD server (Debian package xrootd-server) is not installed and" >&2
  echo "         cannot be installed here (needs root and apt-get); XRootD tests will be skipped." >&2
  exit 0
fi
mapfile -t packages < <(grep -v -E '^\s*(#|$)' deployments/xrootd/debian-packages.txt)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
