"""One typed loader for config records: frozen dataclasses from YAML, JSON, TOML or dicts.

The cluster config and the serve config are both frozen, typed dataclasses
read from a file someone typed by hand. Both need the same things, which live
here once: a file that cannot be read or parsed (missing, not UTF-8, nested
100,000 deep, bad syntax) is one clear error naming the file; an unknown key
is refused with its full name and a "did you mean"; a value of the wrong type
is refused naming the key and what was expected; a missing required key is
named. The only thing that differs between the two users is the error class,
and a hook for conversions of their own (``"64MiB"`` sizes in the serve
config).

Supported field types: ``bool``, ``int``, ``float`` (finite), ``str``,
``Path``, ``X | None``, nested dataclasses, ``tuple[str, ...]`` (a single
string is a one-element tuple), ``tuple[int, ...]`` and ``tuple[float, ...]``
(a list, or a single number for one element; layer sizes) and
``tuple[tuple[str, V], ...]`` (a mapping, or a list of pairs, with text or
scalar values).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hepflow.errors import did_you_mean

#: A conversion of a loader's own: ``(type hint, value, key name) -> value``; return
#: `NotImplemented` to fall back to the standard rules.
Hook = Callable[[Any, Any, str], Any]


def _text(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Loader:
    """Typed conversion of plain data into config dataclasses, raising `error`.

    `numbers_as_text`: whether a number is accepted where text is expected
    (``cpu: 1``, ``walltime: 60``); `prefix_checks`: whether errors raised by a
    record's own ``__post_init__`` checks are prefixed with where the record is.
    """

    error: type[Exception]
    hook: Hook | None = None
    numbers_as_text: bool = False
    prefix_checks: bool = False

    # -- files ---------------------------------------------------------------------------

    def read_file(self, path: str | Path, what: str = "config") -> Any:
        """The parsed content of a YAML (default), JSON (``.json``) or TOML (``.toml``) file.

        Every failure is one `error` naming the file: unreadable, not UTF-8,
        nested too deeply for the parser, or not valid in its format.
        """
        file = Path(path)
        try:
            text = file.read_bytes().decode("utf-8")
        except OSError as err:
            raise self.error(f"cannot read the {what} {file}: {err.strerror or err}") from err
        except UnicodeDecodeError as err:
            raise self.error(f"the {what} {file} is not UTF-8 text") from err
        kind = {".json": "JSON", ".toml": "TOML"}.get(file.suffix.lower(), "YAML")
        try:
            return _parse(text, kind)
        except RecursionError as err:
            raise self.error(f"the {what} {file} nests lists or mappings too deeply") from err
        except ValueError as err:  # every parser's syntax error is a ValueError here
            raise self.error(f"{file} is not valid {kind}: {err}") from err

    # -- records -------------------------------------------------------------------------

    def build(self, cls: type[Any], data: Any, where: str = "") -> Any:
        """An instance of the dataclass `cls` from a mapping, every key and type checked."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise self.error(f"{where or 'the config'} must be a mapping, got "
                             f"{type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = f"{where}.{key}" if where else str(key)
            if key not in fields:
                hint = did_you_mean(str(key), fields)
                raise self.error(f"{where or 'the config'}: unknown key `{key}`"
                                 + (f"; {hint}" if hint else ""))
            kwargs[key] = self.convert(hints[key], value, name)
        missing = [n for n, f in fields.items() if n not in kwargs
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise self.error(f"{where or 'the config'}: missing {', '.join(missing)}")
        try:
            return cls(**kwargs)
        except self.error as err:
            if self.prefix_checks and where:
                raise self.error(f"{where}: {err}") from None
            raise

    def convert(self, hint: Any, value: Any, name: str) -> Any:
        """`value` as the type `hint` says, or an `error` naming the key `name`."""
        if self.hook is not None:
            out = self.hook(hint, value, name)
            if out is not NotImplemented:
                return out
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if value is None and len(args) < len(typing.get_args(hint)):
                return None
            if len(args) != 1:
                raise self.error(f"{name}: cannot convert to {hint}")  # a schema bug
            return self.convert(args[0], value, name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.build(hint, {} if value is None else value, name)
        if origin is tuple:
            return self._tuple(hint, value, name)
        if hint is Path:
            return Path(self._str(value, name))
        if hint is bool:
            if not isinstance(value, bool):
                raise self.error(f"{name}: expected true or false, got {_text(value)}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(f"{name}: expected an integer, got {_text(value)}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise self.error(f"{name}: expected a finite number, got {_text(value)}")
            return float(value)
        if hint is str:
            return self._str(value, name)
        raise self.error(f"{name}: unsupported type {hint}")  # a schema bug, not user input

    def _str(self, value: Any, name: str) -> str:
        if isinstance(value, str):
            return value
        if self.numbers_as_text and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            return str(value)
        raise self.error(f"{name}: expected text, got {_text(value)}")

    def _tuple(self, hint: Any, value: Any, name: str) -> tuple[Any, ...]:
        items = typing.get_args(hint)
        if items and typing.get_origin(items[0]) is tuple:
            keep = typing.get_args(items[0])[1] is not str  # scalar values keep their type
            if isinstance(value, Mapping):
                pairs = list(value.items())
            elif isinstance(value, (list, tuple)) and all(
                    isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
                pairs = [(p[0], p[1]) for p in value]
            else:
                raise self.error(f"{name}: expected a mapping of names to values")
            return tuple((self._str(k, name), self._scalar(v, f"{name}.{k}") if keep
                          else self._str(v, f"{name}.{k}")) for k, v in pairs)
        if items and items[0] in (int, float):
            values = value if isinstance(value, (list, tuple)) else [value]
            return tuple(self.convert(items[0], v, f"{name}[{i}]")
                         for i, v in enumerate(values))
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, (list, tuple)):
            raise self.error(f"{name}: expected text or a list of text, got {_text(value)}")
        return tuple(self._str(v, name) for v in value)

    def _scalar(self, value: Any, name: str) -> str | int | float | bool:
        if not isinstance(value, (str, int, float, bool)):
            raise self.error(f"{name}: expected a number, text or true/false, got "
                             f"{_text(value)}")
        return value


def _parse(text: str, kind: str) -> Any:
    """Parse `text`; syntax errors come out as `ValueError` whatever the format."""
    if kind == "JSON":
        return json.loads(text)
    if kind == "TOML":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10 only
            try:
                import tomli as tomllib
            except ImportError as err:
                raise ValueError("TOML needs Python >= 3.11 or the `tomli` package; or "
                                 "write the file as YAML") from err
        return tomllib.loads(text)  # TOMLDecodeError is a ValueError
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ValueError(where + (err.problem or err.context or "syntax error")) from err
    except yaml.YAMLError as err:
        raise ValueError(" ".join(str(err).split())) from err


__all__ = ["Hook", "Loader"]
