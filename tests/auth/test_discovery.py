"""Discovery: SMART configuration, OpenID configuration, JWKS, style, and the CapabilityStatement's oauth-uris."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.auth.conftest import BASE

EHR_AND_STANDALONE = {
    "launch-standalone",
    "launch-ehr",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-standalone-patient",
    "context-ehr-patient",
    "context-banner",
    "context-style",
    "permission-offline",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "authorize-post",
}


def test_smart_configuration_is_public_json_with_absolute_urls(client: TestClient) -> None:
    response = client.get(f"{BASE}/.well-known/smart-configuration", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["authorization_endpoint"] == f"{BASE}/auth/authorize"
    assert body["token_endpoint"] == f"{BASE}/auth/token"
    assert set(body["capabilities"]) >= EHR_AND_STANDALONE
    assert "authorization_code" in body["grant_types_supported"]
    assert "client_credentials" in body["grant_types_supported"]
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["issuer"] == BASE and body["jwks_uri"].startswith("https://")
    assert {"private_key_jwt", "client_secret_basic"} <= set(body["token_endpoint_auth_methods_supported"])
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    for name in ("introspection_endpoint", "revocation_endpoint", "management_endpoint"):
        assert body[name].startswith(f"{BASE}/auth/")


def test_discovery_answers_any_origin(client: TestClient) -> None:
    response = client.get(f"{BASE}/.well-known/smart-configuration", headers={"Origin": "https://inferno.example"})
    assert response.headers["access-control-allow-origin"] in ("*", "https://inferno.example")
    token = client.options(
        f"{BASE}/auth/token",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert token.status_code == 200
    assert token.headers["access-control-allow-origin"] in ("*", "https://app.example")


def test_openid_configuration_lives_at_the_issuer(client: TestClient) -> None:
    issuer = client.get(f"{BASE}/.well-known/smart-configuration").json()["issuer"]
    response = client.get(f"{issuer}/.well-known/openid-configuration")
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == issuer
    assert "RS256" in body["id_token_signing_alg_values_supported"]
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported"):
        assert body[name]
    assert body["subject_types_supported"] == ["public"]


def test_jwks_holds_one_public_rsa_key(client: TestClient) -> None:
    keys = client.get(f"{BASE}/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"] and keys[0]["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])
    assert client.get(f"{BASE}/.well-known/jwks.json").json()["keys"] == keys  # the same key every time


def test_smart_style_is_served_without_a_token(client: TestClient) -> None:
    response = client.get(f"{BASE}/auth/smart-style.json")
    assert response.status_code == 200
    assert response.json()["color_background"]


def test_capability_statement_names_the_oauth_endpoints(client: TestClient) -> None:
    statement = client.get(f"{BASE}/metadata").json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    oauth = next(e for e in security["extension"] if e["url"].endswith("/oauth-uris"))
    uris = {e["url"]: e["valueUri"] for e in oauth["extension"]}
    # "register" only when dynamic registration is enabled (tests/auth/test_dynamic_registration.py)
    assert set(uris) == {"authorize", "token", "manage", "introspect", "revoke"}
    config = client.get(f"{BASE}/.well-known/smart-configuration").json()
    assert uris["authorize"] == config["authorization_endpoint"]
    assert uris["token"] == config["token_endpoint"]
    assert uris["introspect"] == config["introspection_endpoint"]
    assert uris["revoke"] == config["revocation_endpoint"]
    assert uris["manage"] == config["management_endpoint"]


def test_registration_page_explains_how_to_register(client: TestClient) -> None:
    response = client.get(f"{BASE}/auth/register")
    assert response.status_code == 200
    assert "fhir-server clients create" in response.text


def test_a_plain_http_base_url_still_serves_the_token_endpoint(database_url: str) -> None:
    from fhir_server.app import create_app
    from fhir_server.settings import load_settings

    settings = load_settings(database_url=database_url, base_url="http://fhir.internal/fhir", auth="enabled")
    with TestClient(create_app(settings), base_url="http://fhir.internal") as plain:
        response = plain.post("http://fhir.internal/fhir/auth/token", data={"grant_type": "nonsense"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
