#!/bin/bash
# The driver job's executable (see hepflow-driver.sub): runs hepflow submit on the pool
# named by CLUSTER, whose worker jobs dask-jobqueue submits from here.
set -euo pipefail
analysis="${1:?usage: hepflow-driver.sh ANALYSIS DATASET}"
dataset="${2:?usage: hepflow-driver.sh ANALYSIS DATASET}"
if [ -n "${HEPFLOW_VENV:-}" ]; then
  # shellcheck disable=SC1091
  source "$HEPFLOW_VENV/bin/activate"
fi
cluster="${CLUSTER:-deployments/htcondor/cluster.yaml}"
outdir="${OUTDIR:-hepflow-output}"
exec hepflow submit "$analysis" --cluster "$cluster" --dataset "$dataset" \
  --outdir "$outdir" --report "$outdir/run.json"
