"""The examples in the core's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import SegExportLib


def _runnable_examples(name: str) -> int:
    tests = doctest.DocTestFinder().find(importlib.import_module(name))
    return sum(not example.options.get(doctest.SKIP) for test in tests for example in test.examples)


# Only modules with examples that run (not all marked +SKIP): others would pass without checking anything.
MODULES = sorted(
    name
    for name in (
        f"SegExportLib.{info.name}" for info in pkgutil.iter_modules(SegExportLib.__path__) if info.name != "__main__"
    )
    if _runnable_examples(name)
)


def test_the_core_has_runnable_examples() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"
