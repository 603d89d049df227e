"""What ``fhir-server serve`` settles and says before it listens, and the rule about the SQLite file.

- The public base URL follows ``--host``/``--port`` when ``FHIR_SERVER_BASE_URL`` is unset
  (:func:`listening_base_url`), so discovery, the CapabilityStatement, ``WWW-Authenticate`` and the ``aud`` check
  all name the address the server really listens on.
- A missing SQLite file is created only by ``serve`` and ``db upgrade``; every other command is told where the file
  was looked for (:func:`missing_sqlite_file`) instead of creating an empty one.
- The start-up report (:func:`report`) logs the FHIR base, the UI and docs URLs, and whether the database and
  Orthanc answer (with the reason when not); an unreachable database stops the start (:class:`StartupError`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from fhir_server import health
from fhir_server.db.engine import Database
from fhir_server.db.limits import DatabaseLimits
from fhir_server.db.migrate import pending
from fhir_server.settings import Settings

logger = logging.getLogger("fhir_server.startup")

_WILDCARDS = {"", "0.0.0.0", "::"}  # noqa: S104 (recognised, not bound)


class StartupError(Exception):
    """The server cannot start; the message says why (the database does not answer)."""


def listening_base_url(host: str, port: int) -> str:
    """The FHIR base of a server listening on ``host``:``port`` (a wildcard host is reached as the loopback)."""
    shown = "127.0.0.1" if host in _WILDCARDS else host
    if _is_ipv6(shown):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/fhir"


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def sqlite_file(database_url: str) -> Path | None:
    """The absolute path of the file an SQLite ``database_url`` names; None for PostgreSQL or in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser().absolute()


def missing_sqlite_file(database_url: str) -> str | None:
    """Why a command other than ``serve``/``db upgrade`` cannot use ``database_url``: its SQLite file is missing
    (the message names the absolute path looked at); None when the file exists or the database is not a file."""
    path = sqlite_file(database_url)
    if path is None or path.exists():
        return None
    return (
        f"no database at {path}: the SQLite file of FHIR_SERVER_DATABASE_URL does not exist (a relative path is "
        f"taken from the current directory); create it with `fhir-server db upgrade` (or `fhir-server serve`), "
        f"or point FHIR_SERVER_DATABASE_URL at the existing one"
    )


def site_urls(base_url: str) -> dict[str, str]:
    """The FHIR base, the browser UI (``/``) and the API docs (``/docs``) of a server whose base is ``base_url``."""
    parts = urlsplit(base_url)
    root = f"{parts.scheme}://{parts.netloc}"
    return {"FHIR base": base_url, "UI": f"{root}/", "docs": f"{root}/docs"}


def report(settings: Settings) -> None:
    """Log where the server answers and whether its database and Orthanc do; StartupError when the database does
    not answer (the reason in the message). Pending migrations and an unreachable Orthanc are warnings."""
    for name, url in site_urls(settings.base_url).items():
        logger.info(f"{name}: {url}", extra={"url": url})
    _check_database(settings)
    if settings.orthanc_url:
        check = asyncio.run(health.orthanc_check(settings))
        if check["status"] == "pass":
            logger.info(f"Orthanc at {settings.orthanc_url} answers")
        else:
            logger.warning(f"Orthanc at {settings.orthanc_url} does not answer: {check['detail']}")


def _check_database(settings: Settings) -> None:
    database = Database(settings.database_url, DatabaseLimits.from_settings(settings))
    where = _shown_database(settings.database_url)
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        behind = pending(database.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip()
        logger.error(f"the database {where} does not answer: {reason}")
        raise StartupError(f"cannot reach the database {where}: {reason}") from None
    finally:
        database.dispose()
    if behind:
        logger.warning(f"the database {where} is behind the newest migration: run `fhir-server db upgrade`")
    else:
        logger.info(f"the database {where} answers")


def _shown_database(database_url: str) -> str:
    """The database URL without its password, for logs."""
    return make_url(database_url).render_as_string(hide_password=True)
