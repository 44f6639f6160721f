"""Programs that differ from ROOT today, and why: the defects of issue 21 (and new findings).

`both` applies to the in-process and the cluster run; `sync`/`cluster` to one of them.
Each entry becomes a strict xfail: when the defect is fixed the program passes,
the strict xfail fails, and the entry is to be removed.
"""

from __future__ import annotations

KNOWN: dict[str, dict[str, str]] = {
    "both": {
    },
    "sync": {},
    "cluster": {},
    # files written by Snapshot, by "<program>/<file>"
    "snapshots": {
    },
}
