"""The findings of `contract diff` written out: text for a terminal, JSON for tools, markdown for a
pull-request comment, JUnit XML for a CI test report (each finding at or above --fail-on a failed
test case, the others passed ones)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .diff_rules import ERROR, INFO, LEVELS, WARNING, rank

if TYPE_CHECKING:
    from .diff import Finding

FORMATS = ("text", "json", "markdown", "junit")


def at_or_above(findings: list[Finding], level: str) -> list[Finding]:
    return [f for f in findings if rank(f.level) >= rank(level)]


def counts(findings: list[Finding]) -> dict[str, int]:
    return {level: sum(f.level == level for f in findings) for level in reversed(LEVELS)}


def render(findings: list[Finding], old: str, new: str, fmt: str, fail_on: str = ERROR) -> str:
    ordered = sorted(findings, key=lambda f: -rank(f.level))  # errors first, else in the specs' order
    if fmt == "json":
        return _json(ordered, old, new, fail_on)
    if fmt == "markdown":
        return _markdown(ordered, old, new)
    if fmt == "junit":
        return _junit(ordered, old, new, fail_on)
    return _text(ordered, old, new)


def _summary(findings: list[Finding]) -> str:
    n = counts(findings)
    if not findings:
        return "no changes"
    return (f"{n[ERROR]} error{'s' * (n[ERROR] != 1)}, {n[WARNING]} warning{'s' * (n[WARNING] != 1)}, "
            f"{n[INFO]} info")


def _text(findings: list[Finding], old: str, new: str) -> str:
    lines = [f"{old} → {new}: {_summary(findings)}"]
    for f in findings:
        lines += ["", f"{f.level:<8} {f.id}", f"{'':<8} {f.operation}: {f.message}",
                  f"{'':<8} old: {f.old}", f"{'':<8} new: {f.new}"]
    return "\n".join(lines) + "\n"


def _json(findings: list[Finding], old: str, new: str, fail_on: str) -> str:
    report = {"old": old, "new": new, "summary": counts(findings), "failOn": fail_on,
              "breaking": bool(at_or_above(findings, fail_on)), "findings": [f.as_json() for f in findings]}
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(findings: list[Finding], old: str, new: str) -> str:
    lines = [f"## API changes: `{_cell(old)}` → `{_cell(new)}`", "", f"**{_summary(findings)}**"]
    if findings:
        lines += ["", "| Level | Rule | Operation | Change | Old | New |", "|---|---|---|---|---|---|"]
        lines += [f"| {f.level} | `{f.id}` | `{_cell(f.operation)}` | {_cell(f.message)} | `{_cell(f.old)}` | "
                  f"`{_cell(f.new)}` |" for f in findings]
    return "\n".join(lines) + "\n"


def _junit(findings: list[Finding], old: str, new: str, fail_on: str) -> str:
    failing = at_or_above(findings, fail_on)
    tests = str(max(len(findings), 1))
    suites = ET.Element("testsuites", name="stuntman contract diff", tests=tests, failures=str(len(failing)))
    suite = ET.SubElement(suites, "testsuite", name=f"{old} → {new}", tests=tests, failures=str(len(failing)),
                          errors="0", skipped="0")
    for f in findings:
        case = ET.SubElement(suite, "testcase", classname=f.id, name=f"{f.operation}: {f.message}")
        detail = f"{f.level} {f.id}\nold: {f.old}\nnew: {f.new}"
        if f in failing:
            ET.SubElement(case, "failure", type=f.level, message=f.message).text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    if not findings:
        ET.SubElement(suite, "testcase", classname="contract-diff", name="no changes")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
