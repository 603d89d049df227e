"""Where a login started from the UI goes back to: a page of the UI on this server, never anywhere else."""

from __future__ import annotations

from urllib.parse import urlsplit

from fhir_server.ui.display import UI_PREFIX

MAX_RETURN = 2000


def ui_return_path(value: str | None) -> str | None:
    """``value`` when it is a path of the UI (``/`` or under ``/ui/``, with its query) on this server; None for
    anything else (another site, ``//host``, a backslash or control character, an overlong value), so the login can
    never be made to redirect off the server."""
    if not value or len(value) > MAX_RETURN or "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return value if parts.path == "/" or parts.path.startswith(UI_PREFIX + "/") else None
