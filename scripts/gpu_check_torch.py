"""On a machine with a GPU: the same PyTorch training on CPU and on GPU workers, compared.

Run as ``python scripts/gpu_check_torch.py [--events 60000]``. No test needs a
GPU; this is the check to run where one is. It generates a small DY/ttbar/QCD
sample, then on a LocalCluster of one process worker per GPU (one worker on
the CPU run):

* `DataLoader.as_torch(device="cuda")` delivers every training event once,
  on the GPU;
* `train_torch` with ``device="cpu"`` and ``device="cuda"`` (NCCL between the
  GPU ranks where there are several GPUs), same seed: both test AUCs above
  0.9 and within 0.02 of each other, and the GPU bundle's ONNX twin scores as
  the TorchScript model within 1e-5.

Exits 0 when everything agrees, 1 otherwise (2 without a GPU).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from typing import Any


def mlp(n: int) -> Any:
    import torch

    return torch.nn.Sequential(torch.nn.Linear(n, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    import distributed
    import numpy as np
    import torch

    import hepflow
    import hepflow.ml as ml
    from hepflow.cluster import local_cluster
    from hepflow.samples import make_sample

    if not torch.cuda.is_available():
        print("no GPU visible to torch: nothing to check here")
        return 2
    gpus = torch.cuda.device_count()
    print(f"torch {torch.__version__}, {gpus} GPU(s): {torch.cuda.get_device_name(0)}")
    features = ml.Features(["MET_pt", "nJet", "nMuon"],
                           [ml.Jagged(["Jet_pt", "Jet_btagDeepFlavB"], 4),
                            ml.Jagged("Muon_pt", 2)],
                           label="is_ttbar", weight="genWeight", negative_weights="abs")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in make_sample(tmp, events=args.events, files=2, seed=3,
                                             basket_entries=5_000)]
        results = {}
        for device, workers in (("cpu", 1), ("cuda", gpus)):
            with local_cluster(workers) as cluster, \
                    distributed.Client(cluster, set_as_default=False) as client:
                df = hepflow.RDataFrame("Events", files, client=client)
                sel = df.Filter("process != 2").Define("is_ttbar", "process == 1")
                prepared = ml.prepare(sel, features)
                if device == "cuda":
                    loader = ml.DataLoader(prepared, batch_size=1024)
                    rows, where = 0, set()
                    for x, _, _ in loader.as_torch(device="cuda"):
                        rows += len(x)
                        where.add(x.device.type)
                    good = rows == loader.rows and where == {"cuda"}
                    ok &= good
                    print(f"DataLoader.as_torch('cuda'): {rows} of {loader.rows} events on "
                          f"{where}: {'OK' if good else 'WRONG'}")
                start = time.perf_counter()
                result = ml.train_torch(prepared, model_fn=mlp, epochs=args.epochs,
                                        batch_size=512, device=device, set_seed=1)
                seconds = time.perf_counter() - start
                results[device] = result
                print(f"{device}: {workers} worker(s) on {result.bundle.metrics['devices']}, "
                      f"test AUC {result.test_auc:.4f}, {seconds:.1f} s, "
                      f"{result.bundle.metrics['epochs_run']} epochs")
                prepared.release()
        cpu, gpu = results["cpu"], results["cuda"]
        good = (min(cpu.test_auc, gpu.test_auc) > 0.9
                and abs(cpu.test_auc - gpu.test_auc) < 0.02
                and all(d.startswith("cuda") for d in gpu.bundle.metrics["devices"]))
        ok &= good
        print(f"CPU vs GPU test AUC: {cpu.test_auc:.4f} vs {gpu.test_auc:.4f}: "
              f"{'OK' if good else 'WRONG'}")
        x = np.random.default_rng(0).normal(size=(5000, features.n_inputs)).astype(np.float32)
        diff = float(np.abs(ml.to_onnx(gpu.bundle).predict(x) - gpu.bundle.predict(x)).max())
        ok &= diff < 1e-5
        print(f"ONNX twin of the GPU model: max |difference| {diff:.2e}: "
              f"{'OK' if diff < 1e-5 else 'WRONG'}")
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
