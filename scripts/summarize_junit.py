"""Print one closing line for several pytest JUnit XML reports: 'total: N passed, N failed, N skipped'."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree


def main(paths: list[str]) -> int:
    passed = failed = skipped = 0
    for path in paths:
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError) as exc:
            print(f"{path}: no report ({exc})")
            failed += 1
            continue
        for suite in root.iter("testsuite"):
            tests, errors = int(suite.get("tests", 0)), int(suite.get("errors", 0))
            failures, skips = int(suite.get("failures", 0)), int(suite.get("skipped", 0))
            print(f"{path}: {tests - failures - errors - skips} passed, {failures + errors} failed, {skips} skipped")
            passed += tests - failures - errors - skips
            failed += failures + errors
            skipped += skips
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
