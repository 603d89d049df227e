"""The R4 structure of an element, read off the fhir.resources R4B models: which elements a type has, which
repeat, which are choice types (``deceased[x]``) and what type each holds (http://hl7.org/fhir/R4/elementdefinition.html).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class


@dataclass(frozen=True)
class Element:
    """One element of a type: its JSON key(s), whether it repeats, and its own type's model (None: primitive).

    A choice element (``deceased``) has one key per type (``deceasedBoolean``, ``deceasedDateTime``).
    """

    name: str
    keys: tuple[str, ...]
    repeats: bool
    model: type[Any] | None
    choice: bool


def resource_model(resource_type: str) -> type[Any]:
    """The model of a resource type; KeyError when R4 has no such type."""
    try:
        model: type[Any] = get_fhir_model_class(resource_type)
    except (ValueError, AttributeError, KeyError):
        raise KeyError(resource_type) from None
    return model


def element(model: type[Any] | None, name: str) -> Element | None:
    """The element ``name`` of the type ``model`` (a choice element by its plain name); None when there is none."""
    if model is None:
        return None
    if model not in _CACHE:
        _CACHE[model] = _elements(model)
    return _CACHE[model].get(name)


_CACHE: dict[type[Any], dict[str, Element]] = {}
"""Elements by model: the R4 structure never changes while the process runs."""


def _elements(model: type[Any]) -> dict[str, Element]:
    found: dict[str, Element] = {}
    for python_name, info in model.model_fields.items():
        key = info.alias or python_name
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if key.startswith("_") or not extra.get("element_property"):
            continue
        repeats, child = _shape(info.annotation)
        choice = extra.get("one_of_many")
        if isinstance(choice, str) and choice != key:
            previous = found.get(choice)
            keys = (*previous.keys, key) if previous else (key,)
            found[choice] = Element(choice, keys, repeats, None, True)
        found[key] = Element(key, (key,), repeats, child, False)
    return found


def _shape(annotation: Any) -> tuple[bool, type[Any] | None]:
    """(repeats, model class) of a field annotation such as ``Optional[List[abc.HumanNameType]]``."""
    repeats, model = False, None
    pending = [annotation]
    while pending:
        current = pending.pop()
        origin = typing.get_origin(current)
        if origin is list:
            repeats = True
        if origin in (list, typing.Union, types.UnionType, typing.Annotated):
            pending.extend(typing.get_args(current)[:1] if origin is typing.Annotated else typing.get_args(current))
        elif hasattr(current, "get_model_klass"):
            model = current.get_model_klass()
    return repeats, model
