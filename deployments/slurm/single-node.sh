#!/usr/bin/env bash
# A single-node Slurm (Debian's slurm-wlm 22.05) on this machine, for trying hepflow's
# batch submission on a laptop, and for its tests and CI (they start the same thing through
# hepflow.testing.slurm, which this script runs).
#
#   deployments/slurm/single-node.sh install        # apt-get install the packages (root)
#   deployments/slurm/single-node.sh start [--cpus N] [--dir DIR]
#   eval "$(deployments/slurm/single-node.sh start)"  # ... and point this shell at it
#   deployments/slurm/single-node.sh status
#   deployments/slurm/single-node.sh stop
#
# Runs as root without systemd: munged as the munge user with a private key and socket,
# slurmctld and slurmd as root, no cgroups, no accounting, private ports, state and logs in
# DIR (default /tmp/hepflow-slurm). Clients find it through SLURM_CONF, which `start` prints.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${HEPFLOW_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi

if [ "${1:-}" = "install" ]; then
  # Nothing to do (and no root or network needed) where the daemons are already installed.
  if PATH="$PATH:/usr/sbin:/sbin" command -v slurmctld >/dev/null 2>&1 \
      && PATH="$PATH:/usr/sbin:/sbin" command -v slurmd >/dev/null 2>&1 \
      && PATH="$PATH:/usr/sbin:/sbin" command -v munged >/dev/null 2>&1; then
    echo "Slurm and munge are installed already" >&2
    exit 0
  fi
  if [ "$(id -u)" != "0" ]; then
    echo "error: installing Debian packages needs root" >&2
    exit 1
  fi
  mapfile -t packages < <(grep -v -E '^\s*(#|$)' "$here/debian-packages.txt")
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}"
  exit 0
fi

exec "$python" -m hepflow.testing.slurm "$@"
