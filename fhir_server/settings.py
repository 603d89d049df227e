"""Every knob of the server, read from environment variables prefixed ``FHIR_SERVER_``.

A bad value stops the server at start with a message naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FHIR_SERVER_"
DEFAULT_DATABASE_URL = "sqlite:///fhir-server.db"
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
"""The logo files the pages serve, by suffix, with their media type."""
LOGO_MAX_BYTES = 1024 * 1024


class SettingsError(Exception):
    """A setting has a value the server cannot run with; the message names the variable."""


class Settings(BaseSettings):
    """The server's configuration. Field ``x`` is read from ``FHIR_SERVER_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path.db (embedded default) or postgresql+psycopg://user:pw@host/db",
    )
    base_url: str = Field(
        "http://127.0.0.1:8080/fhir",
        description="The public FHIR base URL, as clients reach it (used in links, Location and `aud`); unset: "
        "`serve` takes it from its --host and --port",
    )
    trusted_proxies: str = Field(
        "",
        description="Addresses or CIDR ranges (space- or comma-separated) of the reverse proxies whose "
        "X-Forwarded-For/-Proto headers `serve` believes (client address and scheme); unset: none is believed",
    )
    orthanc_url: str | None = Field(None, description="Orthanc's REST base, e.g. http://127.0.0.1:8042")
    orthanc_username: str | None = Field(None, description="Orthanc HTTP basic-auth user")
    orthanc_password: SecretStr | None = Field(None, description="Orthanc HTTP basic-auth password")
    orthanc_dicomweb_root: str = Field(
        "/dicom-web/", description="The path of Orthanc's DICOMweb plugin (its DicomWeb.Root setting)"
    )
    orthanc_connect_timeout: float = Field(
        3.0, gt=0, description="Seconds to wait for a connection to Orthanc (then 503/504)"
    )
    orthanc_timeout: float = Field(
        60.0, gt=0, description="Seconds Orthanc may stay silent while answering one request (then 504)"
    )
    imaging_organization: str | None = Field(
        None,
        description="The clinic (id, FHIR id, NPI or name) owning studies stored in Orthanc directly, when their "
        "PatientID does not tell",
    )
    imaging_create_unknown_patients: bool = Field(
        True, description="A study whose PatientID is no patient of the clinic creates that Patient (else skipped)"
    )
    imaging_watch: bool = Field(True, description="Follow Orthanc's change feed while serving (needs orthanc_url)")
    imaging_poll_interval: float = Field(2.0, gt=0, description="Seconds between two reads of Orthanc's changes")
    imaging_reconcile_interval: float = Field(
        300.0, gt=0, description="Seconds between two reconciliations with Orthanc (finds deleted studies)"
    )
    ui_imaging_viewer: str = Field(
        "/stone-webviewer/index.html?study={study_uid}",
        description="The browser UI's link to a study in Orthanc's DICOMweb viewer: a URL, or a path under "
        "orthanc_url, with {study_uid}; shown only when orthanc_url is set (the viewer keeps Orthanc's own login)",
    )
    openai_api_key: SecretStr | None = Field(None, description="Key for the intake-summary model")
    openai_base_url: str | None = Field(None, description="An OpenAI-compatible API base URL")
    openai_model: str = Field("gpt-4o-mini", description="Chat model used for intake summaries")
    openai_timeout: float = Field(
        30.0, gt=0, description="Seconds one call to the intake-summary model may take (then retried, at last 504)"
    )
    openai_max_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries of a model call that timed out, was throttled (429), failed (5xx) or answered "
        "malformed output",
    )
    openai_retry_backoff: float = Field(
        1.0, ge=0, le=60, description="Seconds before the first retry of a model call; doubled for each next one"
    )
    auth: Literal["enabled", "disabled"] = Field(
        "enabled",
        description="SMART authorization; `disabled` serves the API openly (local experiments only)",
    )
    default_clinic: str | None = Field(
        None,
        description="The clinic (id, FHIR id, NPI or exact name) a write goes to when nothing tells (authorization "
        "off, no reference to a clinic's Organization); unset: the only clinic (with several, such a write answers "
        "422)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level")
    secret_key: SecretStr | None = Field(
        None,
        description="Key that signs page cursors (paging links); unset: derived from the database URL, so links are "
        "tamper-evident but not secret",
    )

    metrics_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="Bearer secret that `GET /metrics` (Prometheus) requires; unset: /metrics is off (404)",
    )

    bundle_max_entries: int = Field(
        1000, ge=1, description="Most entries a batch or transaction Bundle may hold (more: 413)"
    )

    access_token_lifetime: int = Field(3600, ge=60, description="Seconds an app's access token lives")
    backend_token_lifetime: int = Field(
        300, ge=60, description="Seconds a backend-services (client_credentials) access token lives"
    )
    refresh_token_lifetime: int = Field(
        100 * 24 * 3600, ge=3600, description="Seconds a refresh token lives (renewed by each refresh)"
    )
    authorization_code_lifetime: int = Field(300, ge=10, le=600, description="Seconds an authorization code lives")
    launch_lifetime: int = Field(600, ge=10, description="Seconds an EHR launch handle lives")
    login_session_lifetime: int = Field(8 * 3600, ge=60, description="Seconds a login at the authorization pages lasts")
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body in bytes (FHIR API, $validate, transactions); a larger one answers 413 "
        "before it is parsed, counted while it arrives",
    )
    binary_max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="Largest Binary content in bytes (`POST`/`PUT /fhir/Binary` with the raw bytes, streamed to the "
        "database, never held whole; a FHIR JSON Binary may carry the same content as base64); larger: 413",
    )
    max_stow_body_bytes: int = Field(
        4 * 1024**3,
        ge=1024,
        description="Largest DICOMweb STOW-RS body in bytes (streamed to Orthanc, never held in memory); larger: 413",
    )
    introspection_clients: str = Field(
        "",
        description="Client ids (space- or comma-separated) of resource servers that may introspect any token; "
        "every other client may introspect only its own tokens",
    )
    dev_tokens: bool = Field(
        False,
        description="Allow `fhir-server token` to mint access tokens for local testing (never in production)",
    )
    dynamic_registration: bool = Field(
        False,
        description="Serve RFC 7591 dynamic client registration at `/fhir/auth/register` (with an initial access "
        "token from `fhir-server clients registration-token`) and advertise it as `registration_endpoint`",
    )
    patch_max_operations: int = Field(
        1000, ge=1, description="Most operations one JSON Patch or FHIRPath Patch may hold (more: 413)"
    )
    patch_max_resource_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Largest resource (JSON bytes) a patch may produce; counted as the stored size plus what each "
        "operation adds (more: 422 before the operation runs)",
    )

    statement_timeout: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds of database work one request may do; a search or write still running then is stopped "
        "and answers 400 too-costly (a database that does not answer at all: 503)",
    )
    database_max_connections: int = Field(
        50,
        ge=3,
        description="Database connections the whole server may open (all `serve --workers` processes together; "
        "each worker takes an equal share, at least 3); keep it below PostgreSQL's max_connections",
    )
    database_pool_timeout: float = Field(
        5.0, gt=0, le=300, description="Seconds a request waits for a free database connection before answering 503"
    )
    database_connect_timeout: int = Field(
        5, ge=1, le=300, description="Seconds to open a PostgreSQL connection before the database counts as down"
    )
    workers: int = Field(1, ge=1, description="Worker processes sharing the connections (set by `serve --workers`)")

    # The durable job queue (fhir_server.jobs): bulk export, later subscription delivery and the imaging feed.
    jobs_in_server: bool = Field(
        True, description="Run queued jobs inside `serve` (false: only `fhir-server worker` processes run them)"
    )
    jobs_poll_seconds: float = Field(1.0, gt=0, le=300, description="Seconds between two looks for queued jobs")
    jobs_lease_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Seconds a worker holds a running job without reporting progress; past it the job counts as "
        "abandoned (its worker died) and another worker runs it again from the start",
    )
    jobs_max_attempts: int = Field(
        3, ge=1, le=100, description="Times a job is started before a job whose workers keep dying counts as failed"
    )

    # The work one search may ask for (issue 12): each refused with 400 (too-costly) naming the parameter.
    search_max_parameters: int = Field(30, ge=1, description="Most criteria one search may hold, repeats included")
    search_max_repeats: int = Field(10, ge=1, description="Most times one search parameter may be repeated (ANDed)")
    # at most 100: more ORed values in the deepest chain and _has overflow SQLite's expression depth (1000)
    search_max_or_values: int = Field(100, ge=1, le=100, description="Most comma-separated (ORed) values per parameter")
    search_max_or_values_total: int = Field(
        300, ge=1, le=900, description="Most comma-separated (ORed) values of all parameters of one search together"
    )
    # at most 2 and 3: deeper nesting overflows SQLite's parser stack (each chain link is two nested subqueries)
    search_max_chain_depth: int = Field(2, ge=1, le=2, description="Most links of one chained parameter (a.b.c: 2)")
    search_max_has_depth: int = Field(3, ge=1, le=3, description="Most nested _has of one parameter")
    search_max_includes: int = Field(10, ge=0, description="Most _include and _revinclude values of one search")

    # Bulk Data export files (issue 17): where the export jobs write their NDJSON, and how many resources one file holds
    export_dir: Path = Field(
        Path("fhir-exports"), description="Directory of the bulk export files (one subdirectory per export job)"
    )
    export_file_max_resources: int = Field(
        100_000, ge=1, description="Most resources (lines) one bulk export NDJSON file holds; more start a new file"
    )
    # Bulk Data export (issue 17): the HTTP side's limits
    export_expire_hours: float = Field(
        24, gt=0, le=24 * 30, description="Hours a bulk export's files and status stay available after kick-off"
    )
    export_max_running: int = Field(
        3, ge=1, description="Most bulk exports one client may have queued or running at once (more: 429)"
    )

    # The pages' branding and password reset by email (issue 16, item 9)
    ui_name: str = Field(
        "FHIR server", min_length=1, max_length=100, description="The name the pages show when no clinic is in context"
    )
    ui_logo_url: str | None = Field(None, description="An http(s) URL of the logo shown on every page")
    ui_logo_file: Path | None = Field(
        None, description="A PNG, JPEG, GIF, WebP or SVG logo file (at most 1 MB), served at {base}/auth/logo"
    )
    ui_color: str | None = Field(None, description="The pages' accent colour, a CSS hex colour such as #0a7d5a")
    smtp_host: str | None = Field(None, description="SMTP server for password-reset emails; unset: no email is sent")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port")
    smtp_username: str | None = Field(None, description="SMTP login (none: no authentication)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_from: str = Field("fhir-server@localhost", description="The From address of the server's emails")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (after connecting), ssl (from the start) or none (a local relay only)"
    )
    smtp_timeout: float = Field(10.0, gt=0, le=300, description="Seconds one SMTP conversation may take")
    password_reset_lifetime: int = Field(
        3600, ge=300, le=7 * 24 * 3600, description="Seconds a password-reset link stays valid (it works once)"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0]
        if scheme not in {"sqlite", "postgresql+psycopg", "postgresql"}:
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if scheme == "postgresql":
            return "postgresql+psycopg" + value[len("postgresql") :]
        return value

    @field_validator("base_url", "orthanc_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.replace(",", " ").split():
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR range") from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The trusted proxies, one address or CIDR range each."""
        return self.trusted_proxies.replace(",", " ").split()

    @field_validator("orthanc_dicomweb_root")
    @classmethod
    def _root_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path such as /dicom-web/")
        return value.rstrip("/") + "/"

    @field_validator("log_level", "auth", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("ui_color")
    @classmethod
    def _hex_color(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value):
            raise ValueError("must be a CSS hex colour such as #0a7d5a")
        return value

    @field_validator("ui_logo_url")
    @classmethod
    def _logo_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc or any(c in value for c in "\"'<> "):
                raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("ui_logo_file")
    @classmethod
    def _logo_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            if value.suffix.lower() not in LOGO_TYPES:
                raise ValueError(f"must end in one of {', '.join(LOGO_TYPES)}")
            if not value.is_file() or value.stat().st_size > LOGO_MAX_BYTES:
                raise ValueError("must be a readable file of at most 1 MB")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
