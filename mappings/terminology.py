"""Code translation through the ConceptMaps in mappings/conceptmaps/ (real FHIR R4 ConceptMap JSON).

Each ConceptMap has one group from the clinic's own code system (source) to a FHIR code system (target).
``translate`` goes internal -> FHIR; ``reverse`` goes FHIR -> internal, and several FHIR codes may map to one
internal code (``checked-in`` and ``arrived`` both mean the clinic's ``arrived``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

CONCEPTMAP_DIR = Path(__file__).resolve().parent / "conceptmaps"


@dataclass(frozen=True)
class Translation:
    system: str
    code: str
    display: str | None


@cache
def conceptmaps() -> dict[str, dict[str, Any]]:
    """Every ConceptMap resource, by id."""
    maps = {}
    for file in sorted(CONCEPTMAP_DIR.glob("*.json")):
        resource = orjson.loads(file.read_bytes())
        maps[resource["id"]] = resource
    return maps


@cache
def _forward(conceptmap_id: str) -> dict[str, Translation]:
    table: dict[str, Translation] = {}
    for group in conceptmaps()[conceptmap_id]["group"]:
        for element in group["element"]:
            for target in element.get("target", []):
                if target.get("equivalence") in {"equivalent", "equal", "wider", "subsumes"}:
                    table.setdefault(
                        element["code"], Translation(group["target"], target["code"], target.get("display"))
                    )
    return table


@cache
def _backward(conceptmap_id: str) -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for group in conceptmaps()[conceptmap_id]["group"]:
        for element in group["element"]:
            for target in element.get("target", []):
                if target.get("equivalence") != "unmatched":
                    table.setdefault((group["target"], target["code"]), element["code"])
    return table


def translate(conceptmap_id: str, code: str) -> Translation:
    """The FHIR coding of an internal code; KeyError when the map has none."""
    return _forward(conceptmap_id)[code]


def reverse(conceptmap_id: str, system: str, code: str) -> str:
    """The internal code of a FHIR coding; KeyError when the map has none."""
    return _backward(conceptmap_id)[(system, code)]


def target_system(conceptmap_id: str) -> str:
    return str(conceptmaps()[conceptmap_id]["group"][0]["target"])


def source_system(conceptmap_id: str) -> str:
    """The clinic's own code system a ConceptMap maps from (its first group's ``source``)."""
    return str(conceptmaps()[conceptmap_id]["group"][0]["source"])


@cache
def source_codes(conceptmap_id: str) -> dict[str, str | None]:
    """Every internal code a ConceptMap lists, with its display, in the map's order."""
    return {
        element["code"]: element.get("display")
        for group in conceptmaps()[conceptmap_id]["group"]
        for element in group["element"]
    }


def known_targets(conceptmap_id: str) -> list[str]:
    """``system|code`` of every FHIR code the map can read back (for error messages)."""
    return [f"{system}|{code}" for system, code in _backward(conceptmap_id)]
