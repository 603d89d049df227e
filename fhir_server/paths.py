"""Where the project's data directories are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_dir(name: str) -> Path:
    """The top-level directory ``name`` (``migrations``, ``conformance``).

    A wheel carries them under ``fhir_server/_bundled/``; a checkout (or editable install) has them beside the
    package.
    """
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ directory is missing from this installation")
