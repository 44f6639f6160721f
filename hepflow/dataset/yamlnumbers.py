"""YAML numbers as a physicist writes them: `sumw: 1.2e9` is a number.

PyYAML follows YAML 1.1, whose float pattern needs a dot and a signed
exponent, so `1.2e9` and `1e-3` load as strings and metadata arithmetic then
fails far from the file. YAML 1.2 (and JSON) read them as numbers; quoted
values stay strings.
"""

from __future__ import annotations

import re

import yaml

_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$")


def with_exponent_floats(loader: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """A subclass of `loader` that also resolves YAML 1.2 exponent floats (`1.2e9`)."""
    numbers: type[yaml.SafeLoader] = type(f"{loader.__name__}WithExponentFloats",
                                          (loader,), {})
    numbers.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT,
                                  list("-+.0123456789"))
    return numbers


__all__ = ["with_exponent_floats"]
