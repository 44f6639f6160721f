#!/usr/bin/env bash
# Install the Debian packages the tests need, when missing: the XRootD server
# (deployments/xrootd/debian-packages.txt) and a single-node Slurm
# (deployments/slurm/debian-packages.txt), and curl for the README's examples.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v xrootd >/dev/null 2>&1 || missing+=(deployments/xrootd/debian-packages.txt)
{ command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; } \
  || missing+=(deployments/slurm/debian-packages.txt)
command -v curl >/dev/null 2>&1 || missing+=(scripts/readme-debian-packages.txt)
command -v g++ >/dev/null 2>&1 || missing+=(scripts/fpga-debian-packages.txt)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing system packages from ${missing[*]} cannot be installed here" >&2
  echo "         (needs root and apt-get); the XRootD / Slurm tests will be skipped." >&2
  exit 0
fi
packages=()
for list in "${missing[@]}"; do
  mapfile -t -O "${#packages[@]}" packages < <(grep -v -E '^\s*(#|$)' "$list")
done
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
