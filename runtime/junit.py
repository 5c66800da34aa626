"""JUnit XML: one test case per check or gate, so every CI provider shows them as tests.

JUnit has no "warning" outcome. A warned check is a passing test case (it did not stop the
pipeline, and CI must not count it as a failure) whose `<system-out>` starts with `WARNING: `
and the message; the suite's `<properties>` carry `mlgen.warnings` (how many) and
`mlgen.warned` (their names), which GitLab and Jenkins show with the suite. Both are part of the
common JUnit schema (Jenkins' junit-10.xsd), unlike properties on a test case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from mlgen_runtime.fsutil import write_bytes_atomic


@dataclass(frozen=True)
class Case:
    name: str
    classname: str  # e.g. "mlgen.validate"
    passed: bool
    message: str = ""  # why it failed (or a note when it passed)
    skipped: bool = False
    warning: bool = False  # passed with a warning (see the module docstring)


WARNING_PREFIX = "WARNING: "


def junit_xml(suite: str, cases: list[Case]) -> bytes:
    failures = sum(1 for c in cases if not c.passed and not c.skipped)
    skipped = sum(1 for c in cases if c.skipped)
    root = ET.Element("testsuites")
    s = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                      errors="0", skipped=str(skipped))
    warned = [c.name for c in cases if c.warning and c.passed and not c.skipped]
    if warned:
        props = ET.SubElement(s, "properties")
        ET.SubElement(props, "property", name="mlgen.warnings", value=str(len(warned)))
        ET.SubElement(props, "property", name="mlgen.warned", value=" ".join(warned))
    for c in cases:
        tc = ET.SubElement(s, "testcase", name=c.name, classname=c.classname)
        if c.skipped:
            ET.SubElement(tc, "skipped", message=c.message)
        elif not c.passed:
            f = ET.SubElement(tc, "failure", message=c.message)
            f.text = c.message
        elif c.warning:
            ET.SubElement(tc, "system-out").text = WARNING_PREFIX + c.message
        elif c.message:
            ET.SubElement(tc, "system-out").text = c.message
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, suite: str, cases: list[Case]) -> None:
    write_bytes_atomic(path, junit_xml(suite, cases))
