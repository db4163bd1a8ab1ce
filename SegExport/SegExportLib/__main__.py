"""``python -m SegExportLib``: the ``segexport`` command."""

from .cli import run

run()
