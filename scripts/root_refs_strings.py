"""ROOT 6.40's answers for `std::string` columns read from a TTree (string columns).

    /work/rootenv/bin/python scripts/root_refs_strings.py

Writes tests/data/frame/strings.root (tree `Events`: a `std::string` branch `s`,
a `TString` branch `ts` and an `int` branch `x`, 6 entries) and ROOT's results
of the filters in `FILTERS` over it to tests/data/root_strings_refs.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import ROOT

FRAME = Path(__file__).resolve().parent.parent / "tests" / "data" / "frame"
DATA = FRAME / "strings.root"
OUT = FRAME.parent / "root_strings_refs.json"
WORDS = ["alpha", "beta", "", "gamma", "beta", "Zulu", "béta"]
FILTERS = ['s == "beta"', 's != "beta"', 's < "beta"', 's <= "beta"', 's > "beta"',
           's >= "beta"', '"beta" == s', 's == s', 's < "b"', 's > "béta"',
           'x > 2 && s == "beta"', 's == "beta" || x == 0']

ROOT.gInterpreter.Declare(r"""
void hepflow_write_strings(const char* path, const std::vector<std::string>& words) {
  TFile f(path, "RECREATE");
  TTree t("Events", "string branches");
  std::string s; TString ts; int x;
  t.Branch("s", &s); t.Branch("ts", &ts); t.Branch("x", &x);
  for (size_t i = 0; i < words.size(); ++i) {
    s = words[i]; ts = words[words.size() - 1 - i].c_str(); x = int(i); t.Fill();
  }
  t.Write();
}""")


def main() -> None:
    words = ROOT.std.vector["std::string"]()
    for w in WORDS:
        words.push_back(w)
    ROOT.hepflow_write_strings(str(DATA), words)
    d = ROOT.RDataFrame("Events", str(DATA))
    refs = {
        "column_type": str(d.GetColumnType("s")),
        "as_numpy": [str(v) for v in d.AsNumpy(["s"])["s"]],
        "display": str(d.Display(["s", "x"], 7).AsString()),
        "counts": {f: int(d.Filter(f).Count().GetValue()) for f in FILTERS},
    }
    OUT.write_text(json.dumps(refs, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
