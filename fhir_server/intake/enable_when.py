"""Whether a Questionnaire item is enabled in a response (http://hl7.org/fhir/R4/questionnaire-definitions.html
#Questionnaire.item.enableWhen and http://hl7.org/fhir/R4/valueset-questionnaire-enable-operator.html).

- ``exists``: the question has an answer (answerBoolean true) or has none (false);
- ``=``, ``>``, ``<``, ``>=``, ``<=``: at least one answer compares so with the enableWhen answer;
- ``!=``: no answer equals it;
- a question without answers satisfies no operator but ``exists`` (false);
- ``enableBehavior`` ``all`` needs every condition, ``any`` (and an item with one condition) one of them;
- an item inside a disabled item is disabled, and the answers of a disabled question count as absent ("the logic
  should proceed as though the item is not valued").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fhir_server.intake.answer_values import compare, value_of
from fhir_server.intake.response_tree import Node, ResponseTree, items_of

_OPERATORS: dict[str, Callable[[int | None], bool]] = {
    "=": lambda c: c == 0,
    ">": lambda c: c is not None and c > 0,
    "<": lambda c: c is not None and c < 0,
    ">=": lambda c: c is not None and c >= 0,
    "<=": lambda c: c is not None and c <= 0,
}


class Enablement:
    """Which items of one response are enabled (memoized; a cycle of enableWhen counts as enabled)."""

    def __init__(self, tree: ResponseTree) -> None:
        self.tree = tree
        self._known: dict[int, bool] = {}
        self._pending: set[int] = set()

    def enabled(self, node: Node) -> bool:
        """Whether a response item is enabled: its parent is, and its enableWhen conditions hold where it is."""
        key = id(node)
        if key in self._known:
            return self._known[key]
        if key in self._pending:
            return True  # a Questionnaire whose conditions depend on themselves: do not block the answer
        self._pending.add(key)
        try:
            result = self.enabled_at(node.definition or {}, node.parent, node.container)
        finally:
            self._pending.discard(key)
        self._known[key] = result
        return result

    def enabled_at(self, definition: Mapping[str, Any], parent: Node | None, container: list[Any]) -> bool:
        """Whether a Questionnaire item would be enabled at a place of the response (for one that is absent)."""
        if parent is not None and not self.enabled(parent):
            return False
        conditions = [c for c in items_of(definition.get("enableWhen")) if isinstance(c, Mapping)]
        if not conditions:
            return True
        results = (self._holds(c, parent, container) for c in conditions)
        return all(results) if definition.get("enableBehavior") == "all" else any(results)

    def _holds(self, condition: Mapping[str, Any], parent: Node | None, container: list[Any]) -> bool:
        question = condition.get("question")
        found = self.tree.nearest(parent, container, question) if isinstance(question, str) else None
        answers = self._answers(found)
        operator, expected = condition.get("operator"), value_of(condition, "answer")
        if operator == "exists":
            return expected is not None and bool(answers) == (expected[1] is True)
        if not answers or expected is None:
            return False
        comparisons = [compare(expected[0], expected[1], kind, value) for kind, value in answers]
        if operator == "!=":
            return all(c != 0 for c in comparisons)
        test = _OPERATORS.get(str(operator))
        return test is not None and any(test(c) for c in comparisons)

    def _answers(self, question: Node | None) -> list[tuple[str, Any]]:
        if question is None or not self.enabled(question):
            return []
        values = (value_of(answer) for answer in items_of(question.item.get("answer")))
        return [v for v in values if v is not None]
