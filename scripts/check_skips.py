#!/usr/bin/env python3
"""Counts the skipped tests of a test run and fails on any skip whose reason is not allowed.

Reads pytest's JUnit XML (skips and xfails) and, when present, the `swift test` log (Swift Testing's
`Test "…" skipped: "…"` / `Suite "…" skipped` lines, XCTest's `Test Case '…' skipped`). Prints
`skips: N` and one line per skip with its reason. Every reason must match one of the regular
expressions in tests/allowed-skips.txt (one per line, `#` starts a comment); otherwise the exit
status is 1. The README's Tests section names the allowed reasons.

    scripts/check_skips.py [--junit reports/pytest-junit.xml] [--swift-log reports/swift-test.log]
                           [--allowed tests/allowed-skips.txt]
"""
import argparse
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Swift Testing: `<symbol> Test "display name" skipped: "comment"` or `<symbol> Suite Name skipped.`
SWIFT_TESTING = re.compile(r'\b(Test|Suite) (.+?) skipped(?:: "(.*)")?\.?\s*$')
# XCTest: `Test Case '-[Module.Case test]' skipped (0.001 seconds).`, reason on an earlier
# `…: Test skipped - reason` line.
XCTEST_CASE = re.compile(r"Test Case '(.+?)' skipped")
XCTEST_REASON = re.compile(r"Test skipped(?: - |: )(.*)$")


def allowed_patterns(path):
    """`regex  # why this skip is acceptable` per line; blank lines and lines starting with # are ignored."""
    patterns = []
    if not path.is_file():
        return patterns
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pieces = re.split(r"\s+#", line.strip(), maxsplit=1)
        text, why = pieces[0].strip(), (pieces[1].strip() if len(pieces) > 1 else "")
        if not why:
            sys.exit(f"{path}:{number}: an allowed skip needs a comment naming why (`regex  # reason`): {line}")
        try:
            patterns.append(re.compile(text))
        except re.error as error:
            sys.exit(f"{path}:{number}: not a regular expression ({error}): {text}")
    return patterns


def pytest_skips(path):
    skips = []
    for case in ET.parse(path).getroot().iter("testcase"):
        for element in case.findall("skipped"):
            name = "::".join(filter(None, [case.get("classname"), case.get("name")]))
            kind = element.get("type") or "skipped"
            reason = element.get("message") or (element.text or "").strip() or "(no reason given)"
            skips.append(("pytest", name, f"{kind}: {reason}" if kind == "pytest.xfail" else reason))
    return skips


def swift_skips(path):
    skips = []
    last_reason = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        reason = XCTEST_REASON.search(line)
        if reason:
            last_reason = reason.group(1).strip()
        case = XCTEST_CASE.search(line)
        if case:
            skips.append(("swift", case.group(1), last_reason or "(no reason given)"))
            last_reason = None
            continue
        match = SWIFT_TESTING.search(line)
        if match and "Test run with" not in line:
            kind, name, comment = match.groups()
            skips.append(("swift", f"{kind} {name}", comment or "(no reason given)"))
    return skips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=pathlib.Path, default=ROOT / "reports" / "pytest-junit.xml")
    parser.add_argument("--swift-log", type=pathlib.Path, default=ROOT / "reports" / "swift-test.log")
    parser.add_argument("--allowed", type=pathlib.Path, default=ROOT / "tests" / "allowed-skips.txt")
    args = parser.parse_args()

    if not args.junit.is_file():
        sys.exit(f"no pytest report at {args.junit} (run pytest with --junitxml={args.junit})")
    skips = pytest_skips(args.junit)
    if args.swift_log.is_file():
        skips += swift_skips(args.swift_log)
    allowed = allowed_patterns(args.allowed)

    unexplained = 0
    print(f"skips: {len(skips)}")
    for source, name, reason in skips:
        ok = any(pattern.search(reason) for pattern in allowed)
        unexplained += not ok
        print(f"  [{'allowed' if ok else 'NOT ALLOWED'}] {source} {name}: {reason}")
    if unexplained:
        print(f"{unexplained} skip(s) with a reason not listed in {args.allowed}: make what the test needs part of "
              "the test command, or name the reason there and in the README's Tests section")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
