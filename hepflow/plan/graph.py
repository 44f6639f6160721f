"""The plan side of one dataframe graph: source, samples, named filters and bookings.

Every `RDataFrame` derived from one source shares one `AnalysisGraph`. It holds
only what the user has asked for; running it is the engine's `Runner`, which a
result handle reaches through the `ResultSource` protocol. Keeping the two apart
lets the facade only build nodes and book actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hepflow.core.sampleinfo import SampleInfo
from hepflow.errors import PlanError
from hepflow.plan.actions.base import Action
from hepflow.plan.handles import ResultSource, RResultMap, RResultPtr
from hepflow.plan.nodes import Filter, Source
from hepflow.plan.variations import Rebaser, variations_above


@dataclass(frozen=True, slots=True, eq=False)
class Booking:
    """A booked action and the handle its result goes to."""

    action: Action[Any, Any]
    handle: RResultPtr[Any]
    variation: str = "nominal"


class AnalysisGraph:
    """What has been booked on one source, waiting for the next run."""

    def __init__(self, source: Source, samples: Mapping[str, SampleInfo],
                 files: Mapping[tuple[str, str], SampleInfo] | None = None) -> None:
        self.source = source
        self.samples: dict[str, SampleInfo] = dict(samples)
        #: ROOT's RSampleInfo of each file, by (sample, file): what rdfsampleinfo_ sees
        self.files: dict[tuple[str, str], SampleInfo] = dict(files or {})
        self._filters: list[Filter] = []
        self._pending: list[Booking] = []
        self._runner: ResultSource | None = None
        self._booked: dict[int, Booking] = {}
        self._rebaser = Rebaser()

    def attach(self, runner: ResultSource) -> None:
        """Name the runner that computes this graph's bookings."""
        self._runner = runner

    @property
    def runner(self) -> ResultSource:
        if self._runner is None:  # pragma: no cover - the facade always attaches one
            raise RuntimeError("this analysis graph has no runner attached")
        return self._runner

    def register_filter(self, node: Filter) -> None:
        """A named filter, in booking order, for `Report()` on the source."""
        self._filters.append(node)

    @property
    def named_filters(self) -> tuple[Filter, ...]:
        return tuple(self._filters)

    def book(self, action: Action[Any, Any], variation: str = "nominal") -> RResultPtr[Any]:
        label = action.label if variation == "nominal" else f"{action.label} [{variation}]"
        handle: RResultPtr[Any] = RResultPtr(self.runner, label)
        booking = Booking(action, handle, variation)
        self._pending.append(booking)
        self._booked[id(handle)] = booking
        return handle

    def variations_for(self, handle: RResultPtr[Any]) -> RResultMap[Any]:
        """Book the result under every variation it depends on (ROOT's `VariationsFor`)."""
        booking = self._booked.get(id(handle))
        if booking is None or booking.handle is not handle:
            raise PlanError("VariationsFor takes a result booked on this dataframe")
        if booking.variation != "nominal":
            raise PlanError("VariationsFor takes a nominal result, not a varied one")
        handles: dict[str, RResultPtr[Any]] = {"nominal": handle}
        for variation in variations_above(booking.action):
            varied = self._rebaser.action(booking.action, variation)
            if varied is not None:
                handles[variation.key] = self.book(varied, variation.key)
        return RResultMap(handles)

    @property
    def pending(self) -> tuple[Booking, ...]:
        return tuple(self._pending)

    def take_pending(self) -> list[Booking]:
        """Hand the bookings over to a run; later bookings go to the next run."""
        taken, self._pending = self._pending, []
        return taken

    def sample_order(self) -> list[str]:
        """Samples in dataset order (results are summed in this order: reproducible floats)."""
        return list(self.samples) or [""]


__all__ = ["AnalysisGraph", "Booking"]
