"""FHIRPath that a client sends (the ``where(...)`` criteria of a FHIRPath Patch path): checked, then evaluated
within a bounded amount of work.

The check runs on the parsed expression (fhirpathpy's parser) and allows only a subset of FHIRPath whose cost
grows with the expression's and the data's size, never faster: navigation, literals, comparison, boolean and
arithmetic operators, type tests and the functions of :data:`ALLOWED_FUNCTIONS`. Regular expressions
(``matches``, ``replaceMatches``), functions that re-evaluate their own results (``select``, ``repeat``,
``aggregate``, ``descendants``), string growth (``replace``), pairwise set operators (``|``, ``in``,
``contains`` as an operator, ``union``, ``intersect`` ...), environment variables (``%resource``, ``$total``)
and ``trace`` answer 400 naming what is refused. The text is at most :data:`MAX_CHARS` characters and nests
parentheses and brackets at most :data:`MAX_NESTING` deep.

Evaluation is bounded by steps, not by a clock: every Python call made while fhirpathpy evaluates counts, and
past the budget of the running patch (:func:`budget`) the evaluation stops with 422 ``too-costly``. The count is
the same on a busy and an idle machine, so the limit never depends on load.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any

from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.parser import parse

from fhir_server.errors import FhirError, unprocessable

MAX_CHARS = 1000
MAX_NESTING = 12
MAX_TREE_DEPTH = 200
DEFAULT_STEPS = 500_000
"""Python calls all client expressions of one patch may make while evaluated: a simple criterion on one element
takes a few hundred; the whole budget about a second of one core."""

ALLOWED_FUNCTIONS = frozenset(
    {
        *("empty", "exists", "all", "allTrue", "anyTrue", "allFalse", "anyFalse", "count", "not"),
        *("where", "first", "last", "tail", "skip", "take", "single", "iif", "ofType", "as", "is", "extension"),
        *("startsWith", "endsWith", "contains", "substring", "indexOf", "length", "lower", "upper", "trim"),
        *("toString", "toInteger", "toDecimal", "toBoolean", "toDate", "toDateTime", "toQuantity"),
        *("convertsToString", "convertsToInteger", "convertsToDecimal", "convertsToBoolean", "convertsToDate"),
        *("convertsToDateTime", "convertsToQuantity", "today", "now"),
    }
)
_ALLOWED_NODES = frozenset(
    {
        *("EntireExpression", "IndexerExpression", "PolarityExpression", "AdditiveExpression", "OrExpression"),
        *("MultiplicativeExpression", "AndExpression", "InequalityExpression", "InvocationExpression"),
        *("EqualityExpression", "ImpliesExpression", "TermExpression", "TypeExpression", "LiteralTerm"),
        *("ParenthesizedTerm", "InvocationTerm", "TimeLiteral", "NullLiteral", "DateTimeLiteral", "StringLiteral"),
        *("BooleanLiteral", "NumberLiteral", "QuantityLiteral", "ThisInvocation", "FunctionInvocation"),
        *("MemberInvocation", "Functn", "ParamList", "Quantity", "Unit", "DateTimePrecision"),
        *("PluralDateTimePrecision", "TypeSpecifier", "QualifiedIdentifier", "Identifier"),
    }
)
_REFUSED_NODES = {
    "UnionExpression": "the union operator |",
    "MembershipExpression": "the membership operators in and contains",
    "ExternalConstantTerm": "environment variables (%name)",
    "TotalInvocation": "$total",
    "IndexInvocation": "$index",
}


class TooCostlyError(Exception):
    """An evaluation used up the steps of its budget."""


def refusal(text: str) -> str | None:
    """Why ``text`` is not an allowed client expression, or None when it is."""
    if len(text) > MAX_CHARS:
        return f"an expression may be at most {MAX_CHARS} characters long"
    if nesting(text) > MAX_NESTING:
        return f"an expression may nest parentheses and brackets at most {MAX_NESTING} deep"
    try:
        tree = parse(text)  # type: ignore[no-untyped-call]
    except Exception:  # fhirpathpy's parser raises assorted errors (and RecursionError) for bad input
        return "the expression is not valid FHIRPath"
    return _refused_in(tree)


def nesting(text: str) -> int:
    """The deepest nesting of parentheses and brackets in ``text``, outside quoted strings."""
    depth = deepest = 0
    quote = ""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quote:
            escaped = char == "\\"
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _refused_in(tree: dict[str, Any]) -> str | None:
    """The first refused construct of a parsed expression (walked without recursion), or None."""
    pending: list[tuple[dict[str, Any], int]] = [(child, 1) for child in tree.get("children", [])]
    while pending:
        node, depth = pending.pop()
        kind = node.get("type", "")
        if depth > MAX_TREE_DEPTH:
            return "the expression is nested too deeply"
        if kind in _REFUSED_NODES:
            return f"{_REFUSED_NODES[kind]} may not be used in a client expression"
        if kind not in _ALLOWED_NODES:
            return f"{kind} may not be used in a client expression"
        if kind == "Functn":
            name = node["children"][0].get("text", "")
            if name not in ALLOWED_FUNCTIONS:
                return f"the function {name}() may not be used in a client expression"
        pending.extend((child, depth + 1) for child in node.get("children", []))
    return None


@dataclass
class Budget:
    """Steps (Python calls during evaluation) left to the client expressions of one patch."""

    steps: int = DEFAULT_STEPS


_CURRENT: ContextVar[Budget | None] = ContextVar("fhirpath_budget", default=None)


@contextmanager
def budget(steps: int = DEFAULT_STEPS) -> Iterator[Budget]:
    """Every :meth:`Criteria.holds` within the block draws on one budget of ``steps``."""
    shared = Budget(steps)
    token = _CURRENT.set(shared)
    try:
        yield shared
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class Criteria:
    """A checked client expression, compiled once, evaluated on many elements."""

    text: str
    evaluate: Callable[..., Any]

    @classmethod
    def of(cls, text: str) -> Criteria:
        """The compiled expression; ValueError naming what is refused."""
        why = refusal(text)
        if why is not None:
            raise ValueError(why)
        return cls(text, compile_fhirpath(text, None))

    def holds(self, value: Any) -> bool:
        """Whether the expression is true on ``value``; TooCostlyError when the running budget is used up, ValueError
        when it cannot be evaluated."""
        shared = _CURRENT.get() or Budget()
        try:
            result = counted(shared, self.evaluate, value)
        except TooCostlyError:
            raise
        except Exception as exc:  # fhirpathpy raises many kinds of errors for an expression that does not fit
            raise ValueError(str(exc) or type(exc).__name__) from None
        return bool(result == [True])


def counted(shared: Budget, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with each Python call it makes charged to ``shared``; TooCostlyError when none are left."""

    def trace(_frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            shared.steps -= 1
            if shared.steps < 0:
                raise TooCostlyError

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        return fn(*args)
    finally:
        sys.settrace(previous)


def too_costly(where: str, expression: str | None = None) -> FhirError:
    """The 422 of an evaluation that ran out of steps."""
    return unprocessable(
        f"{where}: evaluating the expression took more than the allowed work", expression, "too-costly"
    )
