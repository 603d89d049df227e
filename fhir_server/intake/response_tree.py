"""The item tree of a QuestionnaireResponse, each item tied to its Questionnaire item and its place in the tree.

Children of a group sit in ``item.item``, children of a question under its answers (``item.answer.item``), as
http://hl7.org/fhir/R4/questionnaireresponse.html#notes describes. :func:`nearest` finds the occurrence of a
question an enableWhen means: "the nearest question occurrence reachable by tracing first the ancestor axis and then
the preceding axis and then the following axis" (Questionnaire.item.enableWhen.question).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ROOT = "QuestionnaireResponse"


@dataclass(eq=False)
class Node:
    """One QuestionnaireResponse item: its JSON, its Questionnaire item (None when unknown), the item it is nested
    in, the list holding it (its siblings) and its FHIRPath."""

    item: dict[str, Any]
    definition: dict[str, Any] | None
    parent: Node | None
    container: list[Any]
    expression: str

    @property
    def link_id(self) -> Any:
        return self.item.get("linkId")


def items_of(value: Any) -> list[Any]:
    """An ``item`` (or ``answer``) array; anything else is no items."""
    return value if isinstance(value, list) else []


def definitions_by_link(definitions: Any) -> dict[str, dict[str, Any]]:
    """linkId -> Questionnaire item, of one level of the Questionnaire."""
    return {d["linkId"]: d for d in items_of(definitions) if isinstance(d, dict) and isinstance(d.get("linkId"), str)}


def subtree(items: list[Any]) -> Iterator[dict[str, Any]]:
    """Every item under ``items`` in document order: an item, its answers' children, then its own children."""
    for item in items:
        if not isinstance(item, dict):
            continue
        yield item
        for answer in items_of(item.get("answer")):
            if isinstance(answer, dict):
                yield from subtree(items_of(answer.get("item")))
        yield from subtree(items_of(item.get("item")))


@dataclass
class ResponseTree:
    """Every item of a response, indexed by identity, with its definition and place."""

    nodes: dict[int, Node] = field(default_factory=dict)

    @classmethod
    def of(cls, definitions: Any, items: list[Any]) -> ResponseTree:
        tree = cls()
        tree._add(definitions, items, None, ROOT)
        return tree

    def _add(self, definitions: Any, items: list[Any], parent: Node | None, path: str) -> None:
        by_link = definitions_by_link(definitions)
        for k, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            definition = by_link.get(item["linkId"]) if isinstance(item.get("linkId"), str) else None
            node = Node(item, definition, parent, items, f"{path}.item[{k}]")
            self.nodes[id(item)] = node
            children = (definition or {}).get("item")
            for j, answer in enumerate(items_of(item.get("answer"))):
                if isinstance(answer, dict):
                    self._add(children, items_of(answer.get("item")), node, f"{node.expression}.answer[{j}]")
            self._add(children, items_of(item.get("item")), node, node.expression)

    def node(self, item: dict[str, Any]) -> Node:
        return self.nodes[id(item)]

    def nearest(self, parent: Node | None, container: list[Any], link_id: str) -> Node | None:
        """The occurrence of question ``link_id`` nearest to a place (the item ``parent`` and the list
        ``container``): an ancestor first, then within the closest enclosing list, in document order."""
        ancestor = parent
        while ancestor is not None:
            if ancestor.link_id == link_id and ancestor.definition is not None:
                return ancestor
            ancestor = ancestor.parent
        holder, items = parent, container
        while True:
            found = next((i for i in subtree(items) if i.get("linkId") == link_id and id(i) in self.nodes), None)
            if found is not None:
                return self.nodes[id(found)]
            if holder is None:
                return None
            items = holder.container
            holder = holder.parent


def has_answers(item: Mapping[str, Any]) -> bool:
    """Whether an item or anything under it holds an answer."""
    return any(isinstance(i.get("answer"), list) and i["answer"] for i in subtree([item]))
