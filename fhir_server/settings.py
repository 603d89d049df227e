"""Every knob of the server, read from environment variables prefixed ``FHIR_SERVER_``.

A bad value stops the server at start with a message naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FHIR_SERVER_"
DEFAULT_DATABASE_URL = "sqlite:///fhir-server.db"


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
        description="The public FHIR base URL, as clients reach it (used in links, Location and `aud`).",
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
