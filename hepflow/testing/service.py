"""The `with` protocol shared by the real services tests start (XRootD, Slurm)."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_S = TypeVar("_S", bound="Service")


class Service:
    """`with Service(...) as s:` starts it, and closes it however the block ends.

    A start that fails half-way closes what it did start, so a failed fixture
    never leaves daemons or temporary directories behind.
    """

    def start(self: _S) -> _S:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


__all__ = ["Service"]
