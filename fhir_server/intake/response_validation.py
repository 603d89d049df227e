"""A QuestionnaireResponse checked against its Questionnaire (http://hl7.org/fhir/R4/questionnaireresponse.html#notes).

Every item's linkId is an item of the Questionnaire at that place; each answer has a type its item's type takes
(:mod:`fhir_server.intake.answer_values`), is one of the item's ``answerOption`` (or of the codes of a contained
``answerValueSet``) for choice items (an ``open-choice`` also takes free text), and is no longer than ``maxLength``;
a question that does not repeat has one answer, and only a repeating group occurs more than once; groups and
display items hold no answers, and a question's children sit under its answers; a disabled item
(:mod:`fhir_server.intake.enable_when`) holds no answers; and once the response is completed, every enabled required
item is there and answered (a required group: some answer inside it).

Each problem is an :class:`Issue` whose expression names the item or answer: ``QuestionnaireResponse.item[2]
.answer[0]``; an item that is missing is named ``QuestionnaireResponse.item.where(linkId='allergies')`` under its
parent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fhir_server.errors import Issue
from fhir_server.intake.answer_values import (
    NO_ANSWER_TYPES,
    allowed_keys,
    same_coding,
    same_value,
    text_length,
    value_of,
)
from fhir_server.intake.enable_when import Enablement
from fhir_server.intake.response_tree import ROOT, Node, ResponseTree, definitions_by_link, has_answers, items_of


def response_issues(questionnaire: Mapping[str, Any], items: Any, *, completed: bool) -> list[Issue]:
    """Every way the response ``items`` disagree with ``questionnaire``; ``completed`` adds the required items."""
    return _Check(questionnaire, items_of(items), completed).run()


def _where(known: dict[str, str], link_id: str) -> str:
    if link_id not in known:
        return f"the Questionnaire has no item with linkId {link_id!r}"
    parent = known[link_id]
    place = f"inside item {parent!r}" if parent else "at the top level"
    return f"item {link_id!r} is not allowed here: the Questionnaire has it {place}"


def _all_links(definitions: Any, parent: str = "") -> Iterator[tuple[str, str]]:
    for link_id, definition in definitions_by_link(definitions).items():
        yield link_id, parent
        yield from _all_links(definition.get("item"), link_id)


class _Check:
    def __init__(self, questionnaire: Mapping[str, Any], items: list[Any], completed: bool) -> None:
        self.questionnaire = questionnaire
        self.items = items
        self.completed = completed
        self.tree = ResponseTree.of(questionnaire.get("item"), items)
        self.enablement = Enablement(self.tree)
        self.known = dict(_all_links(questionnaire.get("item")))
        self.issues: list[Issue] = []

    def run(self) -> list[Issue]:
        self._level(self.questionnaire.get("item"), self.items, None, ROOT)
        return self.issues

    def _issue(self, code: str, message: str, expression: str) -> None:
        self.issues.append(Issue(code, message, (expression,)))

    def _level(self, definitions: Any, items: list[Any], parent: Node | None, path: str) -> None:
        """One list of response items against one level of the Questionnaire."""
        seen: dict[str, int] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            node = self.tree.node(item)
            link_id, definition = node.link_id, node.definition
            if definition is None:
                self._issue("structure", _where(self.known, str(link_id)), node.expression)
                continue
            seen[link_id] = seen.get(link_id, 0) + 1
            if seen[link_id] > 1 and not (definition.get("type") == "group" and definition.get("repeats") is True):
                self._repeated(definition, node)
            elif not self.enablement.enabled(node):
                if has_answers(item):
                    message = f"item {link_id!r} is answered although its enableWhen conditions disable it"
                    self._issue("business-rule", message, node.expression)
            else:
                self._item(definition, node)
        if self.completed:
            self._required(definitions, items, parent, path)

    def _repeated(self, definition: Mapping[str, Any], node: Node) -> None:
        if definition.get("type") == "group":
            message = f"group {node.link_id!r} does not repeat: it occurs once"
        else:
            message = f"question {node.link_id!r} occurs more than once: all its answers go in one item"
        self._issue("structure", message, node.expression)

    def _item(self, definition: Mapping[str, Any], node: Node) -> None:
        item_type, item = definition.get("type"), node.item
        if item_type in NO_ANSWER_TYPES:
            if items_of(item.get("answer")):
                self._issue("structure", f"{item_type} item {node.link_id!r} takes no answer", node.expression)
            if item_type == "group":
                self._level(definition.get("item"), items_of(item.get("item")), node, node.expression)
            elif items_of(item.get("item")):
                self._issue("structure", f"display item {node.link_id!r} has no child items", node.expression)
            return
        if items_of(item.get("item")):
            message = f"the child items of question {node.link_id!r} go under its answers (answer.item)"
            self._issue("structure", message, node.expression)
        answers = items_of(item.get("answer"))
        if len(answers) > 1 and definition.get("repeats") is not True:
            message = f"question {node.link_id!r} does not repeat: it takes one answer"
            self._issue("structure", message, f"{node.expression}.answer[1]")
        for j, answer in enumerate(answers):
            expression = f"{node.expression}.answer[{j}]"
            if isinstance(answer, dict):
                self._answer(definition, answer, expression)
                self._level(definition.get("item"), items_of(answer.get("item")), node, expression)

    def _answer(self, definition: Mapping[str, Any], answer: Mapping[str, Any], expression: str) -> None:
        found = value_of(answer)
        if found is None:
            return
        kind, value = found
        link_id, item_type, allowed = definition.get("linkId"), definition.get("type"), allowed_keys(definition)
        if f"value{kind}" not in allowed:
            takes = " or ".join(allowed) or "no answer"
            self._issue("value", f"{link_id!r} is a {item_type} item: it takes {takes}, not value{kind}", expression)
            return
        if not self._offered(definition, kind, value):
            message = f"the answer to {link_id!r} is not one of its answer options"
            self._issue("code-invalid", message, expression)
        length, limit = text_length(kind, value), definition.get("maxLength")
        if length is not None and isinstance(limit, int) and length > limit:
            self._issue("value", f"the answer to {link_id!r} is longer than {limit} characters", expression)

    def _offered(self, definition: Mapping[str, Any], kind: str, value: Any) -> bool:
        """Whether a choice answer is one of the options (free text of an open-choice always is)."""
        if definition.get("type") not in ("choice", "open-choice"):
            return True
        if definition.get("type") == "open-choice" and kind == "String":
            return True
        options = [o for o in (value_of(o) for o in items_of(definition.get("answerOption"))) if o is not None]
        if options:
            return any(same_value(option_kind, expected, kind, value) for option_kind, expected in options)
        codes = self._value_set_codes(definition.get("answerValueSet"))
        return codes is None or kind != "Coding" or any(same_coding(code, value) for code in codes)

    def _value_set_codes(self, reference: Any) -> list[dict[str, Any]] | None:
        """The codes of a contained ValueSet (``#id``) listed in its compose or expansion; None when unknown."""
        if not isinstance(reference, str) or not reference.startswith("#"):
            return None
        contained = items_of(self.questionnaire.get("contained"))
        value_set = next((r for r in contained if isinstance(r, dict) and r.get("id") == reference[1:]), None)
        if value_set is None or value_set.get("resourceType") != "ValueSet":
            return None
        codes = [
            {"system": include.get("system"), "code": concept.get("code")}
            for include in items_of((value_set.get("compose") or {}).get("include"))
            if isinstance(include, dict)
            for concept in items_of(include.get("concept"))
            if isinstance(concept, dict)
        ]
        codes += [c for c in items_of((value_set.get("expansion") or {}).get("contains")) if isinstance(c, dict)]
        return codes or None

    def _required(self, definitions: Any, items: list[Any], parent: Node | None, path: str) -> None:
        """The required items of one level that a completed response lacks or leaves unanswered."""
        for link_id, definition in definitions_by_link(definitions).items():
            if definition.get("required") is not True or definition.get("type") == "display":
                continue
            if not self.enablement.enabled_at(definition, parent, items):
                continue
            present = [i for i in items if isinstance(i, dict) and i.get("linkId") == link_id]
            if not present:
                expression = f"{path}.item.where(linkId='{link_id}')"
                self._issue("required", f"item {link_id!r} is required in a completed response", expression)
            for item in present:
                if not has_answers(item):
                    message = f"item {link_id!r} is required in a completed response and has no answer"
                    self._issue("required", message, self.tree.node(item).expression)
