"""FHIRPath evaluation of search parameter expressions (fhirpathpy, R4 model), compiled once per expression."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models

_R4 = models["r4"]


@cache
def compiled(expression: str) -> Callable[..., list[Any]]:
    fn: Callable[..., list[Any]] = compile_fhirpath(expression, _R4)
    return fn


def evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    """The values ``expression`` selects in ``resource`` (FHIRPath collections flattened to Python values)."""
    return [value for value in compiled(expression)(resource) if value is not None]
