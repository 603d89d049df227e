"""The validator's verdict on the recorded documents: run ``validate.mjs --errors-only`` over the NDJSON files (a
few processes at a time), map each error back to its document and the tests that received it, and render a report.

An error line is ``Type/id<TAB>severity<TAB>expression<TAB>message<TAB>source`` where source is ``FILE:LINE`` or
``FILE:LINE#entry[i]`` (an entry of a Bundle on that line); the last line is ``N resources, E errors``.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tests.answer_check.record import AnswerLog
from tests.fhir_validator import run_validator

FALSE_POSITIVES: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (
        re.compile(r"^Binary\.data$"),
        re.compile(r"^String cannot be larger than 1 MB$"),
        # The 1 MB limit is R4's for `string` (datatypes.html#string); Binary.data is a base64Binary, of which R4
        # says "there is no specified upper limit to the size of a binary" (datatypes.html#base64Binary). The
        # validator applies its string limit to every JSON string primitive.
        "R4 sets no size limit on base64Binary (datatypes.html#base64Binary)",
    ),
)
"""(expression, message, why) of validator errors that are wrong per the R4 specification: each matches one exact
case only (the element and the message), never a whole class of messages."""

SOURCE = re.compile(r"answers-(\d+)\.ndjson:(\d+)(?:#entry\[(\d+)\])?$")
SUMMARY = re.compile(r"^(\d+) resources, (\d+) errors$")
GROUPS_SHOWN = 40
SNIPPET = 600


@dataclass(frozen=True)
class Finding:
    """One error of the validator: in document ``document`` (in its Bundle entry ``entry``, if any)."""

    label: str
    expression: str
    message: str
    document: int
    entry: int | None

    def kind(self) -> tuple[str, str, str]:
        """What makes findings alike: the resource type, the expression and message without indexes or values."""
        resource_type = self.label.split("/", 1)[0]
        expression = re.sub(r"\[\d+\]", "[*]", self.expression)
        return resource_type, expression, re.sub(r'"[^"]*"', '"…"', self.message)


@dataclass
class Verdict:
    """The validator's findings over all documents, and what it took."""

    resources: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Runs of the validator that did not end with its summary line (a crash): reported, and the session fails."""


def judge(log: AnswerLog, script: str) -> Verdict:
    """Validate every recorded document with the validator ``script``."""
    verdict = Verdict()
    started = time.monotonic()
    chunks = log.chunks()
    width = max(1, os.cpu_count() or 1)
    for first in range(0, len(chunks), width):
        running = [(path, run_validator(script, [path])) for path in chunks[first : first + width]]
        for path, process in running:
            out, err = process.communicate()
            _read_output(path, out, err, verdict, log)
    verdict.seconds = time.monotonic() - started
    return verdict


def _read_output(path: Path, out: str, err: str, verdict: Verdict, log: AnswerLog) -> None:
    lines = out.splitlines()
    summary = SUMMARY.match(lines[-1]) if lines else None
    if summary is None:
        verdict.failures.append(f"{path.name}: the validator ended without its summary: {(out + err)[-2000:]}")
        return
    verdict.resources += int(summary.group(1))
    for line in lines[:-1]:
        finding = _finding(line, log)
        if finding is None:
            verdict.failures.append(f"{path.name}: unexpected validator output: {line}")
        elif not _false_positive(finding):
            verdict.findings.append(finding)


def _finding(line: str, log: AnswerLog) -> Finding | None:
    parts = line.split("\t")
    source = SOURCE.search(parts[-1]) if len(parts) == 5 else None
    if source is None:
        return None
    chunk, number, entry = source.groups()
    document = log.number(int(chunk), int(number))
    return Finding(parts[0], parts[2], parts[3], document, int(entry) if entry is not None else None)


def _false_positive(finding: Finding) -> bool:
    return any(where.match(finding.expression) and what.match(finding.message) for where, what, _ in FALSE_POSITIVES)


def report(verdict: Verdict, log: AnswerLog, limit: int | None = GROUPS_SHOWN) -> list[str]:
    """A readable report of the findings: grouped by kind (most frequent first), each with its count, one example
    (resource, expression, message, the resource's JSON cut short) and the tests that received the example."""
    groups: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for finding in verdict.findings:
        groups[finding.kind()].append(finding)
    ordered = sorted(groups.values(), key=len, reverse=True)
    shown = ordered if limit is None else ordered[:limit]
    documents = log.documents({group[0].document for group in shown})
    lines = [f"{len(verdict.findings)} errors of {len(groups)} kinds in {len(log.receipts)} distinct FHIR bodies:"]
    for group in shown:
        lines.extend(_example(group, documents[group[0].document], log))
    if len(shown) < len(ordered):
        lines.append(f"... and {len(ordered) - len(shown)} more kinds (see the full report)")
    return lines + [f"validator failure: {failure}" for failure in verdict.failures]


def _example(group: list[Finding], document: bytes, log: AnswerLog) -> list[str]:
    first = group[0]
    receipt = log.receipts[first.document]
    more = receipt.times - len(receipt.tests)
    where = f" (Bundle entry {first.entry})" if first.entry is not None else ""
    return [
        f"- {len(group)} x {first.label}{where} {first.expression}: {first.message}",
        f"    received by: {', '.join(receipt.tests)}" + (f" (+{more} more receipts)" if more > 0 else ""),
        f"    resource: {_snippet(document, first.entry)}",
    ]


def _snippet(document: bytes, entry: int | None) -> str:
    if entry is not None:
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            document = orjson.dumps(orjson.loads(document)["entry"][entry]["resource"])
    text = document.decode(errors="replace")
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"
