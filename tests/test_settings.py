"""Settings come from FHIR_SERVER_* variables; a bad value is refused at start, naming the variable."""

from __future__ import annotations

import pytest

from fhir_server.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings


def test_defaults_use_the_embedded_sqlite_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FHIR_SERVER_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.is_sqlite
    assert settings.base_url == "http://127.0.0.1:8080/fhir"
    assert settings.auth == "enabled"


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", "postgresql://u:p@db/fhir")
    monkeypatch.setenv("FHIR_SERVER_BASE_URL", "https://fhir.example.org/r4/")
    monkeypatch.setenv("FHIR_SERVER_AUTH", "DISABLED")
    monkeypatch.setenv("FHIR_SERVER_ORTHANC_PASSWORD", "s3cret")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u:p@db/fhir"
    assert settings.base_url == "https://fhir.example.org/r4"
    assert settings.auth == "disabled"
    assert settings.orthanc_password is not None
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FHIR_SERVER_AUTH", "maybe"),
        ("FHIR_SERVER_DATABASE_URL", "mysql://localhost/fhir"),
        ("FHIR_SERVER_BASE_URL", "not a url"),
        ("FHIR_SERVER_ORTHANC_URL", "ftp://orthanc"),
        ("FHIR_SERVER_LOG_LEVEL", "chatty"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()
