"""The ``fhir-server`` command: serve, db, seed, reindex, import, clinics, users, clients, imaging.

Every command reads the settings from ``FHIR_SERVER_*`` environment variables, prints a one-line reason and
exits non-zero on failure (never a traceback for a user mistake).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from fhir_server import auth_commands, client_commands, import_command, worker_command
from fhir_server.auth.users import UserError, create_user, list_users
from fhir_server.clinics import ClinicError, create_clinic, list_clinics
from fhir_server.db import Organization
from fhir_server.db.clinic import organization_lookup
from fhir_server.db.engine import Database
from fhir_server.db.migrate import current_revision, head_revision, upgrade
from fhir_server.errors import FhirError
from fhir_server.fhir import pipeline
from fhir_server.fhir.search.reindex import DEFAULT_BATCH, count_versions, rebuild
from fhir_server.imaging.orthanc import OrthancClient
from fhir_server.imaging.passes import full_pass
from fhir_server.metrics import multiprocess
from fhir_server.password_reset_command import reset_password
from fhir_server.request_log import configure_logging
from fhir_server.seed import seed_demo, seed_demo_access
from fhir_server.settings import Settings, SettingsError, load_settings
from fhir_server.startup import StartupError, listening_base_url, missing_sqlite_file
from fhir_server.startup import report as startup_report

GRACEFUL_SHUTDOWN = 10
"""Seconds a stopping server (SIGTERM) lets running requests finish before cancelling them."""

# rich_markup_mode=None: click's own help, which shows a flag as a flag (typer's rich help adds "<bool>")
app = typer.Typer(
    help="FHIR R4 server over a clinic's data.", no_args_is_help=True, add_completion=False, rich_markup_mode=None
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
users_app = typer.Typer(help="The clinic's user accounts.", no_args_is_help=True)
imaging_app = typer.Typer(help="Imaging: ImagingStudy resources kept in step with Orthanc.", no_args_is_help=True)
app.add_typer(db_app, name="db")
clinics_app = typer.Typer(help="The clinics (tenants): every row belongs to one.", no_args_is_help=True)
app.add_typer(clinics_app, name="clinics")
app.add_typer(users_app, name="users")
clients_app = typer.Typer(help="Registered SMART apps and backend services.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(imaging_app, name="imaging")
auth_commands.register(app, clients_app)
client_commands.register(clients_app)
worker_command.register(app)
import_command.register(app)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


@contextmanager
def database(create: bool = False) -> Iterator[Database]:
    """The database of the settings; database errors become one-line failures. A missing SQLite file is a failure
    naming where it was looked for, unless ``create`` (only `serve` and `db upgrade` create it)."""
    config = settings()
    missing = None if create else missing_sqlite_file(config.database_url)
    if missing:
        fail(missing)
    # every write versioned and indexed; one naming no clinic goes to the default clinic
    db = Database(config.database_url, finish=pipeline.finish, default_clinic=config.default_clinic)
    try:
        yield db
    except OperationalError as exc:
        fail(f"cannot reach the database: {exc.orig}")
    except IntegrityError as exc:
        fail(f"the database refused the change: {exc.orig}")
    except SQLAlchemyError as exc:
        fail(f"database error: {exc}")
    finally:
        db.dispose()


def migrate(config: Settings, create: bool = False) -> None:
    """Apply the pending migrations; ``create``: a missing SQLite file is created (else a failure)."""
    with database(create):
        upgrade(config.database_url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Install the demo clinic first (idempotent).")] = False,
) -> None:
    """Serve the FHIR API. On the embedded SQLite default, pending migrations are applied first. Without
    FHIR_SERVER_BASE_URL the base URL is http://HOST:PORT/fhir. Logs its URLs; refuses to start without a database."""
    os.environ.setdefault("FHIR_SERVER_BASE_URL", listening_base_url(host, port))  # inherited by the workers
    config = settings()
    configure_logging(config.log_level)
    if config.is_sqlite:
        migrate(config, create=True)
    try:
        startup_report(config)
    except StartupError as exc:
        fail(str(exc))
    if demo:
        seed(demo=True)
    os.environ["FHIR_SERVER_WORKERS"] = str(workers)  # each worker takes its share of the database connections
    multiprocess.prepare(workers)  # several workers share their metrics through files
    uvicorn.run(
        "fhir_server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        # X-Forwarded-For/-Proto believed only from the proxies FHIR_SERVER_TRUSTED_PROXIES names
        proxy_headers=bool(config.trusted_proxy_list),
        forwarded_allow_ips=config.trusted_proxy_list or None,
        # uvicorn kills a worker whose health-check thread does not answer in time; a worker busy with a large
        # transaction on a loaded machine can miss the default 5 s and lose the requests in flight.
        timeout_worker_healthcheck=30,
        # After SIGTERM, requests still running this long are cancelled (their database work stopped).
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    config = settings()
    migrate(config, create=True)
    out.print(f"database is at revision {head_revision(config.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether migrations are pending."""
    config = settings()
    with database() as db:
        current, head = current_revision(db.engine), head_revision(config.database_url)
    state = "up to date" if current == head else f"behind (head is {head}): run `fhir-server db upgrade`"
    out.print(f"revision {current or '(empty database)'}: {state}")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Install the demo clinic.")] = False,
) -> None:
    """Install demo data (idempotent: a second run adds nothing)."""
    if not demo:
        fail("say what to seed: --demo")
    config = settings()
    migrate(config) if config.is_sqlite else None
    with database() as db, db.write() as session:
        result = seed_demo(session)
        access = seed_demo_access(session)
    verb = "installed" if result.created else "already present"
    out.print(
        f"demo clinic {verb}: {result.practitioners} practitioners, {result.patients} patients, "
        f"{result.appointments} appointments, {result.intake_forms} intake forms, "
        f"{result.clinical_resources} resources of the patients' clinical records"
    )
    out.print(
        f"demo logins (password {access.password}): physician {access.physician_email}, "
        f"portal patient {access.patient_email}\n"
        f"demo SMART app: client_id {access.app_client_id} (public, PKCE), "
        f"redirect URIs {' '.join(access.app_redirect_uris)}",
        highlight=False,
    )


@app.command()
def reindex(
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Resources per transaction.")] = DEFAULT_BATCH,
    rerender: Annotated[
        bool, typer.Option("--rerender", help="First render every row again; record a version where it changed.")
    ] = False,
) -> None:
    """Rebuild the search index from the stored current versions (after an upgrade changed how they are indexed)."""
    config = settings()
    migrate(config) if config.is_sqlite else None
    with database() as db:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("indexing", total=count_versions(db))
            result = rebuild(db, batch_size, rerender, progress=lambda n: bar.advance(task, n))
    rerendered = f", {result.rerendered} re-rendered as new versions" if rerender else ""
    out.print(f"reindexed {result.versions} versions: {result.rows} index rows{rerendered}")


@clinics_app.command("create")
def clinics_create(
    name: Annotated[str, typer.Option(help="The clinic's name.")],
    npi: Annotated[str | None, typer.Option(help="The clinic's NPI (10 digits).")] = None,
    timezone: Annotated[str, typer.Option(help="The clinic's IANA time zone, e.g. America/New_York.")] = "UTC",
    fhir_id: Annotated[
        str | None, typer.Option(help="The Organization's FHIR id (its id on a server whose export will be imported).")
    ] = None,
) -> None:
    """Create a clinic and its Organization (versioned and indexed: readable through FHIR at once)."""
    with database() as db, db.write() as session:
        try:
            clinic = create_clinic(session, name, npi, timezone, fhir_id)
        except ClinicError as exc:
            fail(str(exc))
    out.print(f"created clinic {clinic.name}: id {clinic.id}, Organization/{clinic.fhir_id}", highlight=False)


@clinics_app.command("list")
def clinics_list() -> None:
    """List the clinics with what they hold."""
    with database() as db, db.read() as session:
        table = Table("id", "FHIR id", "name", "NPI", "time zone", "patients", "practitioners", "users")
        for c in list_clinics(session):
            counts = (str(c.patients), str(c.practitioners), str(c.users))
            table.add_row(str(c.id), c.fhir_id, c.name, c.npi or "", c.timezone, *counts)
    out.print(table)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email (case-insensitive, unique).")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[str, typer.Option(help="admin, owner, physician, nurse, front_desk, ... or patient.")],
    organization: Annotated[str, typer.Option(help="The clinic: id, FHIR id, NPI or exact name.")],
    password: Annotated[
        str | None, typer.Option(help="Password (at least 8 characters); asked for when not given.")
    ] = None,
) -> None:
    """Create a user account."""
    with database() as db, db.write() as session:
        clinic = session.scalars(select(Organization).where(organization_lookup(organization))).first()
        if clinic is None:
            fail(f"no clinic matches {organization!r}")
        secret = password or ask_password()
        try:
            user = create_user(session, organization=clinic, email=email, password=secret, role=role, full_name=name)
        except UserError as exc:
            fail(str(exc))
        out.print(f"created user {user.email} ({user.role}) in {clinic.name}: id {user.id}")


@users_app.command("list")
def users_list(
    organization: Annotated[str | None, typer.Option(help="Only this clinic (id, FHIR id, NPI or name).")] = None,
) -> None:
    """List user accounts."""
    with database() as db, db.read() as session:
        org_id = None
        if organization is not None:
            clinic = session.scalars(select(Organization).where(organization_lookup(organization))).first()
            if clinic is None:
                fail(f"no clinic matches {organization!r}")
            org_id = clinic.id
        table = Table("email", "name", "role", "active", "locked until", "last login")
        for user in list_users(session, org_id):
            table.add_row(
                user.email,
                user.full_name,
                user.role,
                "yes" if user.active else "no",
                _when(user.locked_until),
                _when(user.last_login_at),
            )
    out.print(table)


users_app.command("reset-password")(reset_password)


@imaging_app.command("sync")
def imaging_sync() -> None:
    """One pass over Orthanc: every study becomes (or updates) its ImagingStudy; studies gone are deleted."""
    config = settings()
    if not config.orthanc_url:
        fail("no Orthanc is configured: set FHIR_SERVER_ORTHANC_URL")
    with database() as db, Progress(console=err, transient=False) as bar:
        task = bar.add_task("syncing studies", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with OrthancClient(config) as client:
                report = full_pass(db, config, client, progress)
        except FhirError as exc:
            fail(str(exc))
    for problem in report.problems:
        err.print(f"[yellow]skipped:[/] {problem}", highlight=False)
    out.print(f"imaging sync: {report.summary()}")


def _when(value: object) -> str:
    return "" if value is None else str(value)


def ask_password() -> str:
    """A new password typed twice (not echoed); fails when the two differ."""
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        fail("the passwords differ")
    return first


main: Callable[[], None] = app
