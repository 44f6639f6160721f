"""Write the small ROOT 6.40 RNTuples the checksum tests read, and ROOT's own sums of them.

Run once with ROOT's Python (``/work/rootenv/bin/python scripts/make_root_rntuples.py``);
the files and the JSON of reference values are checked in under tests/data, so the
tests need no ROOT. ROOT is the writer on purpose: the tests check hepflow's
checksum verification against checksums ROOT computed, not ones hepflow wrote.

`root640-rntuple-checksums.root` holds the RNTuple `Events`, 2,000 entries of
`event` (std::uint64_t), `MET_pt` (float) and `Jet_pt` (std::vector<float>),
ZSTD-compressed, pages of at most 1 kB (several per column and cluster), four
clusters of 500 entries in two cluster groups (so two page lists), every page
checksummed (ROOT's default).

With ``--check FILE`` it instead reads an RNTuple `Events` written by hepflow's
``Snapshot(format="rntuple")`` through ROOT's RNTupleReader, which verifies every
page checksum, and prints how many pages carry one and ROOT's sums.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ROOT

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
FILE = DATA / "root640-rntuple-checksums.root"
REFERENCE = DATA / "root640-rntuple-checksums.json"

ROOT.gInterpreter.Declare(r"""
#include <ROOT/RNTupleModel.hxx>
#include <ROOT/RNTupleWriter.hxx>
#include <ROOT/RNTupleWriteOptions.hxx>
#include <cmath>
#include <vector>

void hepflow_write_checksummed(const char *path)
{
   auto model = ROOT::RNTupleModel::Create();
   auto event = model->MakeField<std::uint64_t>("event");
   auto met = model->MakeField<float>("MET_pt");
   auto jets = model->MakeField<std::vector<float>>("Jet_pt");
   ROOT::RNTupleWriteOptions options;
   options.SetCompression(505);
   options.SetInitialUnzippedPageSize(256);
   options.SetMaxUnzippedPageSize(1024);
   auto writer = ROOT::RNTupleWriter::Recreate(std::move(model), "Events", path, options);
   for (int i = 0; i < 2000; ++i) {
      *event = 1000000 + i;
      *met = 10.0f + static_cast<float>((i * 37) % 200) / 4.0f;
      jets->clear();
      for (int k = 0; k < i % 5; ++k)
         jets->push_back(20.0f + static_cast<float>((i + 7 * k) % 90));
      writer->Fill();
      if (i % 500 == 499)
         writer->CommitCluster(/*commitClusterGroup=*/i == 999);
   }
}
""")


def _pages(path: str) -> tuple[int, int]:
    """(pages, pages with a checksum) of the RNTuple `Events`, from ROOT's descriptor."""
    reader = ROOT.RNTupleReader.Open("Events", path)
    desc = reader.GetDescriptor()
    pages = checksummed = 0
    for cluster in desc.GetClusterIterable():
        for column in cluster.GetColumnRangeIterable():
            for info in cluster.GetPageRange(column.GetPhysicalColumnId()).GetPageInfos():
                pages += 1
                checksummed += bool(info.HasChecksum())
    return pages, checksummed


def _sums(path: str, columns: list[str]) -> dict[str, float]:
    """ROOT's RDataFrame sums of each column (of each element, for a collection)."""
    df = ROOT.RDataFrame("Events", path)
    out: dict[str, float] = {"entries": float(df.Count().GetValue())}
    for name in columns:
        kind = df.GetColumnType(name)
        expr = f"double(Sum({name}))" if "RVec" in kind or "vector" in kind else f"double({name})"
        out[name] = float(df.Define(f"s_{name}", expr).Sum(f"s_{name}").GetValue())
    return out


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        path = sys.argv[2]
        reader = ROOT.RNTupleReader.Open("Events", path)
        names = [f.GetFieldName() for f in reader.GetDescriptor().GetTopLevelFields()]
        pages, checksummed = _pages(path)
        print(json.dumps({"pages": pages, "checksummed": checksummed,
                          "sums": _sums(path, names)}))
    else:
        DATA.mkdir(parents=True, exist_ok=True)
        ROOT.hepflow_write_checksummed(str(FILE))
        pages, checksummed = _pages(str(FILE))
        reference = {"pages": pages, "checksummed": checksummed,
                     "sums": _sums(str(FILE), ["event", "MET_pt", "Jet_pt"])}
        REFERENCE.write_text(json.dumps(reference, indent=1) + "\n")
        print(reference)
    sys.stdout.flush()
    os._exit(0)  # ROOT 6.40's RNTuple views crash in Python's interpreter shutdown


if __name__ == "__main__":
    main()
