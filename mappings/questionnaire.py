"""questionnaires <-> Questionnaire (http://hl7.org/fhir/R4/questionnaire.html).

Columns: the metadata a form is found by (canonical ``url``, ``version``, ``name``, ``title``, ``status`` in FHIR's
own publication-status codes, ``publisher``). The items are the document itself and stay verbatim in ``extra``.
A questionnaire written by a caller bound to a clinic belongs to that clinic; otherwise it is shared by every
clinic (``organization_id`` NULL), and an update keeps whatever clinic it had.
"""

from __future__ import annotations

from typing import ClassVar

from fhir_server.db import Questionnaire
from fhir_server.db.directory import PUBLICATION_STATUSES
from mappings import lens
from mappings.base import Field, ResourceMapping
from mappings.datatypes import one_of, text


def _text_field(attr: str, element: str, max_length: int) -> Field:
    return Field(attr, lens.path(element), f"Questionnaire.{element}", parse=text(max_length))


class QuestionnaireMapping(ResourceMapping):
    resource_type = "Questionnaire"
    model = Questionnaire
    keeps_unheld = True
    shared = True
    fields: ClassVar[tuple[Field, ...]] = (
        _text_field("url", "url", 1000),
        _text_field("version", "version", 100),
        _text_field("name", "name", 200),
        _text_field("title", "title", 500),
        Field("status", lens.path("status"), "Questionnaire.status", parse=one_of(PUBLICATION_STATUSES), required=True),
        _text_field("publisher", "publisher", 200),
    )
