"""`DataLoader`: batches of a selection streamed from the workers to a training loop.

    loader = hepflow.ml.DataLoader(df, features, batch_size=512, normalisation=norm)
    for x, y, w in loader.as_torch(device="cuda"):
        ...

The workers read and prepare chunks (the fused kernel with static column
pruning, the features' padding and masks, the event-number split) at most
`chunks_in_flight` chunks ahead (two per worker unless given); the client holds
one chunk result and a shuffle buffer of `batches_in_memory` batches, so its
memory is bounded by that window, never by the dataset. Each selected event of
the split comes exactly once per epoch; chunk order and rows are shuffled from
a generator seeded by `set_seed` and the epoch number, so a rerun with the
same seed gives the same batches.
Names follow ROOT's `RDataLoader` (`batch_size`, `batches_in_memory`,
`shuffle`, `drop_remainder`, `set_seed`, `as_numpy`/`as_torch`/`as_tensorflow`,
`num_batches`, `last_batch_no_of_rows`, and `sampling_type`, `sampling_ratio`,
`replacement` for under- and oversampling of the label's two classes: see
`hepflow.ml.sampling`).

A `PreparedData` (from `hepflow.ml.prepare`) can stand for the dataframe:
its blocks already sit on the workers, so epochs cost no reading.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np

from hepflow.engine.partitions import partitions
from hepflow.ml.batching import Arrays, BatchOptions, batches, count_batches
from hepflow.ml.errors import PlanError, check_count
from hepflow.ml.features import Features
from hepflow.ml.normalise import Normalisation
from hepflow.ml.prepare import PreparedData, build_block, split_arrays
from hepflow.ml.sampling import Picks, Sampling, class_counts, select
from hepflow.ml.split import SPLIT_NAMES

ALL = -1


def identity_normalisation(features: Features) -> Normalisation:
    """Values as they are (padded slots still get their pad): for a loader without a fit."""
    width = len(features.value_names)
    return Normalisation("none", features.value_names, np.zeros(width), np.ones(width))


@dataclass(frozen=True, eq=False)
class ChunkArrays:
    """The worker's task for one chunk: read, select, prepare -> (x, y, w) of one split."""

    read: Callable[[Any], Mapping[str, Any]]  # a chunk's columns by name
    features: Features
    normalisation: Normalisation
    split: int

    #: What dask calls the task: without a name, `Client.submit` logs (and so formats)
    #: str(task), the repr of the whole plan and features, tens of ms per chunk.
    __name__ = "hepflow_chunk_arrays"

    def __call__(self, chunk: Any, index: int) -> Arrays:
        return block_arrays(build_block(self.read(chunk), self.features, index),
                            self.features, self.normalisation, self.split)


def block_arrays(block: Any, features: Features, norm: Normalisation, split: int) -> Arrays:
    """(x, y, w) of one split of a block (`ALL`: every event, in entry order)."""
    if split == ALL:
        block = replace(block, split=np.zeros(len(block), np.int8))  # never the worker's own
        split = 0
    return split_arrays(block, features, norm, split)


def _split_index(split: str | None) -> int:
    if split is None:
        return ALL
    if split not in SPLIT_NAMES:
        raise PlanError(f"split must be one of {', '.join(SPLIT_NAMES)} or None (every "
                        f"event), got {split!r}")
    return SPLIT_NAMES.index(split)


class DataLoader:
    """Streams `(x, y, w)` batches of one split of a selection, epoch after epoch.

    `x` is the model's input matrix (values normalised with `normalisation`,
    padded jagged slots, then one mask column per slot: what `Predict` feeds
    the bundle), `y` the label and `w` the weight (float32). `split` is
    "train", "validation", "test" (the features' deterministic split) or None
    for every event. `epochs` is how many epochs one `for` loop runs; the next
    loop goes on with the next epochs (new order, same seed).
    """

    def __init__(self, df: Any, features: Features | None = None, batch_size: int = 64, *,
                 batches_in_memory: int = 10, shuffle: bool = True,
                 drop_remainder: bool = False, set_seed: int = 0,
                 split: str | None = "train", epochs: int = 1,
                 chunks_in_flight: int | None = None,
                 normalisation: Normalisation | None = None, client: Any = None,
                 sampling_type: str = "", sampling_ratio: float = 1.0,
                 replacement: bool = False) -> None:
        self.options = BatchOptions(batch_size, batches_in_memory, shuffle, drop_remainder,
                                    set_seed)
        self.sampling = Sampling(sampling_type, sampling_ratio, replacement)
        check_count(epochs, "epochs")
        check_count(chunks_in_flight, "chunks_in_flight", optional=True)
        self.split = _split_index(split)
        self.epochs = epochs
        self._epoch = 0
        if isinstance(df, PreparedData):
            if features is not None and features != df.features:
                raise PlanError("DataLoader: a PreparedData brings its own features; "
                                "leave features out")
            self.features = df.features
            self.normalisation = normalisation or df.normalisation
            self.client = df.client
            self._source: _Source = _Blocks(df, self.features, self.normalisation, self.split)
        else:
            if not isinstance(features, Features):
                raise PlanError(f"DataLoader(df, features, ...): expected hepflow.ml.Features, "
                                f"got {type(features).__name__}")
            features.validate(df, training=True)
            from hepflow.ml.prepare import _client_of

            self.features = features
            self.normalisation = normalisation or identity_normalisation(features)
            if self.normalisation.names != features.value_names:
                raise PlanError("DataLoader: the normalisation is for other columns than "
                                "the features")
            self.client = _client_of(df, client)
            self._source = _Reads(features.attach(df), features, self.normalisation,
                                  self.split)
        # two chunks per worker by default: each computes one while the client takes another
        self.chunks_in_flight = chunks_in_flight or max(
            2, 2 * len(self.client.scheduler_info()["workers"]))
        if self.sampling.active and self.features.label is None:
            raise PlanError(f"sampling_type={sampling_type!r} needs features with a label "
                            f"(its two classes are resampled)")
        self._rows: int | None = None
        self._counts: np.ndarray | None = None
        if self.sampling.active:
            self.class_counts  # noqa: B018 - counted now, so a bad ratio fails at once

    # -- what ROOT's RDataLoader tells about itself ----------------------------------------

    @property
    def columns(self) -> list[str]:
        """Names of the columns of `x`, in order."""
        return list(self.features.input_names)

    @property
    def train_columns(self) -> list[str]:
        return self.columns

    @property
    def rows(self) -> int:
        """Events of the split in one epoch (the first call counts them on the workers)."""
        if self._rows is None:
            self._rows = (self.sampling.rows(self.class_counts) if self.sampling.active
                          else self._source.rows(self.client))
        return self._rows

    @property
    def class_counts(self) -> np.ndarray:
        """Per chunk, events of label 0, label 1 and other (counted once, on the workers)."""
        if self._counts is None:
            counts = self._source.class_counts(self.client)
            self.sampling.check_counts(counts)
            self._counts = counts
        return self._counts

    @property
    def num_batches(self) -> int:
        return count_batches(self.rows, self.options)

    @property
    def last_batch_no_of_rows(self) -> int:
        """Rows of the last, short batch (0 when there is none or it is dropped)."""
        rest = self.rows % self.options.batch_size
        return 0 if self.options.drop_remainder else rest

    # -- batches -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Arrays]:
        first = self._epoch
        self._epoch += self.epochs
        stream = self._stream(range(first, first + self.epochs))
        try:
            for epoch, group in groupby(stream, key=itemgetter(0)):
                yield from batches((arrays for _, arrays in group), self.options,
                                   self.options.rng(epoch))
        finally:
            stream.close()

    def _plan(self, epochs: range) -> Iterator[tuple[int, int, Picks | None]]:
        """(epoch, chunk index, sampling picks) in the order the chunks are consumed."""
        n = self._source.size
        for epoch in epochs:
            picks = (self.sampling.plan(self.class_counts, self.options.rng(epoch, 2)
                                        if self.options.shuffle else None)
                     if self.sampling.active else None)
            order = (self.options.rng(epoch, 1).permutation(n) if self.options.shuffle
                     else np.arange(n))
            for index in order.tolist():
                yield epoch, index, None if picks is None else picks[index]

    def _stream(self, epochs: range) -> Iterator[tuple[int, Arrays]]:
        """(epoch, chunk result) in plan order, `chunks_in_flight` computing ahead.

        Results come to the client as soon as each is computed (distributed's
        `as_completed` fetches them in the background), not when the loop asks
        for them: one fetch at a time, on demand, left the workers idle. The
        window runs on across epoch boundaries, so only the first epoch of a
        loop waits for it to fill.
        """
        from distributed import as_completed

        plan = self._plan(epochs)
        window: deque[tuple[int, Picks | None, Any]] = deque()
        arrived = as_completed(loop=self.client.loop, with_results=True)
        ready: dict[str, Arrays] = {}

        def submit() -> None:
            for epoch, index, picks in plan:
                future = self._source.submit(self.client, index)
                arrived.add(future)
                window.append((epoch, picks, future))
                return

        for _ in range(self.chunks_in_flight):
            submit()
        try:
            while window:
                epoch, picks, head = window[0]
                while head.key not in ready:
                    future, arrays = next(arrived)
                    ready[future.key] = arrays
                    future.release()
                window.popleft()
                arrays = ready.pop(head.key)
                submit()
                yield epoch, arrays if picks is None else select(arrays, picks)
        finally:
            arrived.clear()
            for _, _, future in window:
                future.cancel()

    def as_numpy(self) -> DataLoader:
        """The loader itself: it yields numpy `(x, y, w)` batches."""
        return self

    def as_torch(self, device: Any = None) -> Iterator[Any]:
        """`(x, y, w)` as torch tensors (sharing the numpy memory on CPU), on `device`."""
        from hepflow.ml.device import import_torch, torch_device

        torch = import_torch()
        target = torch_device(device)
        for x, y, w in self:
            tensors = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, y, w))
            yield tuple(t.to(target, non_blocking=True) for t in tensors)

    def as_tensorflow(self) -> Any:
        """A `tf.data.Dataset` of `(x, y, w)` batches (one pass per iteration of it)."""
        from hepflow.ml.tfsetup import import_keras, import_tf

        import_keras()
        tf = import_tf()

        width = self.features.n_inputs
        signature = (tf.TensorSpec((None, width), tf.float32), tf.TensorSpec((None,), tf.float32),
                     tf.TensorSpec((None,), tf.float32))
        return tf.data.Dataset.from_generator(lambda: iter(self), output_signature=signature)

    def __repr__(self) -> str:
        split = "all" if self.split == ALL else SPLIT_NAMES[self.split]
        return (f"<hepflow.ml.DataLoader {split}: {self._source.size} chunks, batch_size "
                f"{self.options.batch_size}, {self.features.n_inputs} inputs>")


class _Source:
    """Where chunk results come from: one future per chunk index."""

    size: int

    def submit(self, client: Any, index: int) -> Any:
        raise NotImplementedError

    def rows(self, client: Any) -> int:
        raise NotImplementedError

    def class_counts(self, client: Any) -> np.ndarray:
        """Per chunk: events of label 0, of label 1 and of other values (one pass)."""
        futures = [client.submit(class_counts, self.submit(client, i), pure=False)
                   for i in range(self.size)]
        return np.array(client.gather(futures), np.int64).reshape(self.size, 3)


def _count(arrays: Arrays) -> int:
    return len(arrays[1])


class _Reads(_Source):
    """Chunks read from the files by the workers, on demand."""

    def __init__(self, df: Any, features: Features, norm: Normalisation, split: int) -> None:
        runner = df._runner
        self.chunks = list(runner.chunks)
        if not self.chunks:
            raise PlanError("DataLoader: the dataset has no entries")
        reader = partitions(runner, df._node, list(features.read_columns)).function.columns
        self.task = ChunkArrays(reader, features, norm, split)
        self.size = len(self.chunks)

    def submit(self, client: Any, index: int) -> Any:
        return client.submit(self.task, self.chunks[index], index, pure=False)

    def rows(self, client: Any) -> int:
        futures = [client.submit(_count, self.submit(client, i), pure=False)
                   for i in range(self.size)]
        return int(sum(client.gather(futures)))


class _Blocks(_Source):
    """Blocks a `prepare` left on the workers: each epoch reads nothing."""

    def __init__(self, prepared: PreparedData, features: Features, norm: Normalisation,
                 split: int) -> None:
        self.prepared = prepared
        self.features = features
        self.norm = norm
        self.split = split
        self.size = len(prepared.blocks)
        self._owners: dict[str, Any] | None = None

    def submit(self, client: Any, index: int) -> Any:
        # on the block's worker (asked once for all blocks: a who_has round trip per
        # chunk cost more than the chunk's transfer), else the scheduler moves blocks
        block = self.prepared.blocks[index]
        if self._owners is None:
            self._owners = client.who_has(self.prepared.blocks)
        owners = sorted(self._owners.get(block.key, ())) or None
        return client.submit(block_arrays, block, self.features, self.norm, self.split,
                             pure=False, workers=owners, allow_other_workers=True)

    def rows(self, client: Any) -> int:
        if self.split == ALL:
            return self.prepared.events
        return sum(self.prepared.counts(self.split))


__all__ = ["ALL", "ChunkArrays", "DataLoader", "block_arrays", "identity_normalisation"]
