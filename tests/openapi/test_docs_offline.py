"""``/docs`` (Swagger UI) and ``/redoc`` in a real headless Chromium (Debian's, driven by Playwright) with every
request to another host refused: the pages, their scripts and styles and the OpenAPI document all come from the
server itself, so the documentation works without internet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.auth.test_real_clients import chromium  # noqa: F401  (the browser fixture)
from tests.screenshots import assert_not_blank
from tests.servers import serving

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = [pytest.mark.slow]
_LOCAL = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("docs")
    env = {"FHIR_SERVER_DATABASE_URL": f"sqlite:///{directory / 'docs.db'}", "FHIR_SERVER_LOG_LEVEL": "warning"}
    with serving([], directory, env) as url:
        yield url


def _offline_page(browser: Any, refused: list[tuple[str, str]]) -> Any:
    """A page of a fresh context whose requests to any host but this machine are aborted (and listed with their
    resource type)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in _LOCAL:
            route.continue_()
        else:
            refused.append((route.request.resource_type, route.request.url))
            route.abort()

    context.route("**/*", only_local)
    return context.new_page()


def test_swagger_ui_renders_every_type_offline(chromium: Any, root: str, tmp_path: Path) -> None:  # noqa: F811
    refused: list[tuple[str, str]] = []
    page = _offline_page(chromium, refused)
    page.goto(f"{root}/docs")
    page.wait_for_selector("#operations-tag-Patient", timeout=60_000)
    page.click("#operations-tag-Patient")
    page.wait_for_selector("#operations-Patient-get-Patient-id")
    assert page.locator(".opblock-tag").count() > 100  # one section per resource type
    assert "read Patient" in page.inner_text("#operations-Patient-get-Patient-id")
    shot = tmp_path / "docs.png"
    page.screenshot(path=str(shot), full_page=False)
    assert_not_blank(shot)
    assert refused == []
    page.context.close()


def test_redoc_renders_offline(chromium: Any, root: str, tmp_path: Path) -> None:  # noqa: F811
    refused: list[tuple[str, str]] = []
    page = _offline_page(chromium, refused)
    page.goto(f"{root}/redoc?type=Patient")
    page.wait_for_selector("h1:has-text('FHIR server')", timeout=60_000)
    page.wait_for_selector("h2:has-text('$everything Patient')")
    assert page.locator("text=read Patient").count() >= 1
    shot = tmp_path / "redoc.png"
    page.screenshot(path=str(shot))
    assert_not_blank(shot)
    assert [kind for kind, _ in refused] in ([], ["image"])  # at most ReDoc's "API docs by Redocly" logo
    page.context.close()
