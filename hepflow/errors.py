"""The exceptions hepflow raises, in one small hierarchy.

Every message says what happened and what the physicist can do about it, so
that an error from a worker far away still reads like advice.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HepflowError(Exception):
    """Base class of every error hepflow raises on purpose."""


class PlanError(HepflowError, ValueError):
    """The analysis as written cannot be run (bad column name, bad model, ...)."""


class ExpressionError(PlanError):
    """An expression string could not be parsed or type-checked.

    The message quotes the user's text with a caret under the offending span,
    because the position is what one needs to fix a typo.
    """

    def __init__(self, message: str, text: str = "", start: int = 0, end: int | None = None,
                 hint: str = "") -> None:
        self.reason = message
        self.text = text
        self.start = start
        self.end = start + 1 if end is None else max(end, start + 1)
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [self.reason]
        if self.text:
            lines.append("    " + self.text)
            lines.append("    " + " " * self.start + "^" * (self.end - self.start))
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class ReadError(HepflowError, OSError):
    """A file (or one replica of it) could not be read.

    Carries the file, the replica tried and the entry range so that a failed
    chunk in a run over thousands of files can be found and rerun.
    """

    def __init__(self, file: str, entry_start: int, entry_stop: int | None, cause: str,
                 replica: str | None = None) -> None:
        self.file = file
        self.replica = replica if replica is not None else file
        self.entry_start = entry_start
        self.entry_stop = entry_stop
        self.cause = cause
        where = self.file if self.replica == self.file else \
            f"{self.file} (replica {self.replica})"
        # None: to the end of the file, where the damage hides how many entries it has
        stop = "end" if entry_stop is None else entry_stop
        super().__init__(f"cannot read entries {entry_start}-{stop} of {where}: {cause}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self),
                (self.file, self.entry_start, self.entry_stop, self.cause, self.replica))


class AccountingError(HepflowError):
    """A run processed a different number of entries than its chunks hold."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A 'did you mean' hint for a misspelt name, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in candidates}
        if name.lower() in lower:
            close = [lower[name.lower()]]
    if not close:
        return ""
    return "did you mean " + ", ".join(f"`{c}`" for c in close) + "?"


__all__ = [
    "AccountingError",
    "ExpressionError",
    "HepflowError",
    "PlanError",
    "ReadError",
    "did_you_mean",
]


class EvaluationError(HepflowError, RuntimeError):
    """An expression or callable failed on real events; names the chunk it failed on."""


__all__ += ["EvaluationError"]


class SnapshotError(HepflowError, OSError):
    """A Snapshot target cannot be written: a folder, read-only, missing parent, ...

    Raised on the client before the run starts whenever the problem can be
    seen then, and always naming the target file rather than a hidden part.
    """


__all__ += ["SnapshotError"]


class AnalysisError(HepflowError, RuntimeError):
    """An analysis file failed while it was run to book its results.

    The message names the file and the line; the exception the file raised is
    the cause, so ``--debug`` still shows where in the user's code it failed.
    """


class OutputError(HepflowError, OSError):
    """Results cannot be written where they were asked for (a folder, a report file)."""


__all__ += ["AnalysisError", "OutputError"]


class ResultMemoryError(HepflowError, MemoryError):
    """A result does not fit in memory where it is assembled (the client).

    The message names the result (action and columns) and the size it needs,
    so the physicist can select fewer entries or columns, or write them with
    `Snapshot` instead; it is still a `MemoryError` for code that catches those.
    """


__all__ += ["ResultMemoryError"]


# The cluster layer's errors (raised by hepflow.cluster, the default local
# cluster and the command line), here with the others so that the engine's
# default cluster and the cluster package raise the same classes.
class ClusterConfigError(HepflowError, ValueError):
    """A cluster config is malformed: unknown key, wrong type, bad value.

    Raised while the config is read, before any job is submitted, so that a
    typo costs seconds instead of a place in a batch queue.
    """


class ClusterError(HepflowError, RuntimeError):
    """A cluster could not be started or reached, or no worker joined in time.

    The message names what is missing (the package, the scheduler address,
    the pending jobs and where their logs are) and what to try next.
    """


class SubmitError(HepflowError, RuntimeError):
    """A batch job could not be submitted, found or followed."""


__all__ += ["ClusterConfigError", "ClusterError", "SubmitError"]
