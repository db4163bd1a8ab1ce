"""The hostile-input table: tests record what they tried and how it ended; the session writes the table.

``record(category, tried, outcomes, note, passed)`` adds a row; conftest writes every row of the run to
Testing/README.md (and test-results/) at the end of the session.
"""

from __future__ import annotations

import platform
import sys
from collections import Counter
from pathlib import Path

import pydicom

ROWS: list[tuple[str, int, str, str, bool]] = []
_TOTALS: dict[str, tuple[int, Counter, list[str], bool]] = {}


def record(category: str, tried: int, outcomes: Counter | dict, note: str, passed: bool = True) -> None:
    """Add what a test tried; rows of one category are summed."""
    count, counter, notes, all_passed = _TOTALS.get(category, (0, Counter(), [], True))
    counter.update(outcomes)
    if note not in notes:
        notes.append(note)
    _TOTALS[category] = (count + tried, counter, notes, all_passed and passed)
    ROWS[:] = [
        (
            name,
            total,
            ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items(), key=lambda item: -item[1])),
            "; ".join(texts),
            ok,
        )
        for name, (total, counts, texts, ok) in _TOTALS.items()
    ]


def write_table(path: Path) -> None:
    if not ROWS:
        return
    lines = [
        "# Testing: hostile inputs tried by the test suite",
        "",
        "Written by the test suite itself (Testing/support/hostile.py) at the end of each run: what was tried in",
        "each category and how it ended. Every outcome is either accepted (a correct SEG or a clean parse) or one of",
        "SegExport's named errors; anything else fails the run.",
        "",
        f"Last run: Python {platform.python_version()}, pydicom {pydicom.__version__}, {sys.platform}.",
        "",
        "| category | inputs | outcomes | how they were made | all named? |",
        "|---|---|---|---|---|",
    ]
    for category, tried, listing, note, passed in sorted(ROWS):
        lines.append(f"| {category} | {tried} | {listing} | {note} | {'yes' if passed else '**no**'} |")
    path.write_text("\n".join(lines) + "\n")
