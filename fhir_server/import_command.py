"""The ``fhir-server import`` command: NDJSON files (a Bulk Data export, another system's data) into the server.

It reads the files in dependency passes (:mod:`fhir_server.fhir.ndjson_files`) and writes them through the write
pipeline in batches (:mod:`fhir_server.fhir.ndjson_import`), with a progress bar; every line that fails is printed
as ``file:line: Type/id failed: <the OperationOutcome's message>``, every batch retried line by line is announced,
and a summary gives, per type, how many lines created, updated, deleted or failed, and the rate. The exit status is
1 when any line failed.

Registered on the command line by :func:`register`; it uses the command line's own helpers (settings, database,
failure messages) from :mod:`fhir_server.cli`, imported when the command runs (that module imports this one).
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select

from fhir_server.access.context import OPEN, AccessContext
from fhir_server.db import Organization
from fhir_server.db.clinic import organization_lookup
from fhir_server.db.engine import Database
from fhir_server.fhir.ndjson_files import Line, lines_of_rank, ndjson_files, scan
from fhir_server.fhir.ndjson_import import DEFAULT_BATCH, Importer
from fhir_server.fhir.ndjson_prepare import Outcome

ACTIONS = ("created", "updated", "deleted", "absent", "failed")
DEFAULT_JOBS = min(2, os.cpu_count() or 1)
IN_PROCESS_BELOW = 2000
"""Fewer lines than this are checked in this process: starting worker processes would cost more than it saves."""


def register(app: typer.Typer) -> None:
    """Add ``import`` to the ``fhir-server`` command."""
    app.command("import")(import_ndjson)


def import_ndjson(
    path: Annotated[Path, typer.Argument(help="An NDJSON file (.ndjson, .ndjson.gz) or a directory of them.")],
    clinic: Annotated[
        str | None,
        typer.Option(help="Write everything into this clinic (id, FHIR id, NPI, name); default: each resource's own."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10000, help="Lines per transaction.")] = DEFAULT_BATCH,
    jobs: Annotated[
        int,
        typer.Option(
            min=0, max=64, help="Processes checking lines while others are written (0: none; none below 2,000 lines)."
        ),
    ] = DEFAULT_JOBS,
    report: Annotated[
        Path | None,
        typer.Option(help="Write what became of every line to this file (NDJSON: file, line, action, message)."),
    ] = None,
) -> None:
    """Import FHIR resources from NDJSON, one per line, as updates: ids are kept and a second import changes nothing.
    Bundles of DELETE requests (an export's deleted files) delete. Exits 1 when any line failed."""
    from fhir_server import cli

    config = cli.settings()
    cli.migrate(config) if config.is_sqlite else None
    try:
        found = scan(ndjson_files(path))  # every file read once before anything is written
    except ValueError as exc:
        cli.fail(str(exc))
    started = time.monotonic()
    with cli.database() as db, _report_file(report) as written:
        access = _access(db, clinic)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=cli.err, transient=True) as bar:
            reporter = Reporter(bar, bar.add_task("importing", total=found.total + len(found.unreadable)), written)
            for line, problem in found.unreadable:
                reporter(Outcome(line, "?", None, "failed", problem))
            with _pool(jobs if found.total >= IN_PROCESS_BELOW else 0) as pool:
                importer = Importer(db, access, batch_size, reporter, _notice, pool, jobs)
                for rank in found.ranks():
                    importer.run(lines_of_rank(found, rank))
                importer.finish()
    _summary(reporter.tally, found.total + len(found.unreadable), time.monotonic() - started)
    if any(counts["failed"] for counts in reporter.tally.values()):
        raise typer.Exit(1)


class Reporter:
    """Takes each line's outcome: counted by type and action, the progress bar advanced (once per line: a deletions
    Bundle has an outcome per entry), a failure printed, every outcome written to ``--report`` when given."""

    def __init__(self, bar: Progress, task: TaskID, written: IO[bytes] | None) -> None:
        self.bar, self.task, self.written = bar, task, written
        self.tally: dict[str, Counter[str]] = defaultdict(Counter)
        self.last: Line | None = None

    def __call__(self, outcome: Outcome) -> None:
        self.tally[outcome.resource_type][outcome.action] += 1
        if outcome.line is not self.last:
            self.last = outcome.line
            self.bar.advance(self.task)
        if outcome.action == "failed":
            _print_failure(outcome)
        if self.written is not None:
            self.written.write(orjson.dumps(_outcome_json(outcome)) + b"\n")


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    fields = {"file": str(outcome.line.path), "line": outcome.line.number, "resourceType": outcome.resource_type,
              "id": outcome.resource_id, "action": outcome.action, "message": outcome.message,
              "retried": outcome.retried}  # fmt: skip
    return {k: v for k, v in fields.items() if v not in (None, "")}


@contextmanager
def _report_file(path: Path | None) -> Iterator[IO[bytes] | None]:
    if path is None:
        yield None
        return
    with path.open("wb") as stream:
        yield stream


@contextmanager
def _pool(jobs: int) -> Iterator[Executor | None]:
    """``jobs`` worker processes for checking lines (None for 0: checked in this process)."""
    if jobs == 0:
        yield None
        return
    with ProcessPoolExecutor(jobs) as pool:
        yield pool


def _access(db: Database, clinic: str | None) -> AccessContext:
    """The command line's open access; confined to one clinic (every write goes there) when ``clinic`` names one."""
    from fhir_server import cli

    if clinic is None:
        return OPEN
    with db.read() as session:
        found = session.scalars(
            select(Organization.id).where(organization_lookup(clinic), Organization.is_clinic)
        ).first()
    if found is None:
        cli.fail(f"no clinic matches {clinic!r}")
    return AccessContext(open=True, organization_id=found)


def _notice(text: str) -> None:
    from fhir_server import cli

    cli.err.print(f"retry: {text}", highlight=False, markup=False, soft_wrap=True)


def _print_failure(outcome: Outcome) -> None:
    from fhir_server import cli

    name = outcome.resource_type + (f"/{outcome.resource_id}" if outcome.resource_id else "")
    after = f" (retried {outcome.retried})" if outcome.retried else ""
    cli.err.print(
        f"{outcome.line.where}: {name} failed{after}: {outcome.message}", highlight=False, markup=False, soft_wrap=True
    )


def _summary(tally: dict[str, Counter[str]], lines: int, seconds: float) -> None:
    """The counts per type and action, and the rate."""
    from fhir_server import cli

    table = Table("type", *ACTIONS)
    totals: Counter[str] = Counter()
    for resource_type in sorted(tally):
        counts = tally[resource_type]
        totals.update(counts)
        table.add_row(resource_type, *(str(counts[a]) for a in ACTIONS))
    table.add_row("total", *(str(totals[a]) for a in ACTIONS))
    cli.out.print(table)
    written = totals["created"] + totals["updated"] + totals["deleted"]
    rate = written / seconds if seconds > 0 else 0.0
    cli.out.print(
        f"{lines} lines: {written} resources written, {totals['failed']} lines failed "
        f"({seconds:.1f} s, {rate:,.0f} resources/s)",
        highlight=False,
    )
