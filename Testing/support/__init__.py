"""Test support for the SegExport suite: independent oracles and comparison helpers."""
