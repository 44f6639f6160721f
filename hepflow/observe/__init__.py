"""How fast, and where does the time go: per-chunk instrumentation and its consumers."""

from hepflow.observe.events import TOPIC, emit_chunk

__all__ = ["TOPIC", "emit_chunk"]
