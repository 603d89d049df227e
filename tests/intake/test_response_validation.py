"""QuestionnaireResponse items checked against their Questionnaire (fhir_server.intake.response_validation)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.demo.intake import intake_questionnaire
from fhir_server.intake.response_validation import response_issues

SNOMED = "http://snomed.info/sct"
SMOKER = {"system": SNOMED, "code": "77176002", "display": "Smoker"}
NEVER = {"system": SNOMED, "code": "266919005", "display": "Never smoked tobacco"}


def item(link_id: str, *answers: dict[str, Any], **more: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"linkId": link_id, **more}
    if answers:
        found["answer"] = list(answers)
    return found


def issues(questionnaire: dict[str, Any], items: list[Any], completed: bool = False) -> list[tuple[str, str]]:
    """(code, expression) of every issue."""
    return [(i.code, i.expression[0]) for i in response_issues(questionnaire, items, completed=completed)]


def one_question(**definition: Any) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "q", **definition}]}


# --- linkIds and structure --------------------------------------------------------------------------------------


def test_a_complete_demo_intake_form_has_no_issue() -> None:
    items = [
        item("reason-for-visit", {"valueString": "Cough"}),
        item("symptoms", item=[item("has-symptoms", {"valueBoolean": False})]),
        item("medications", item=[item("takes-medications", {"valueBoolean": False})]),
        item("allergies", item=[item("has-allergies", {"valueBoolean": False})]),
        item("lifestyle", item=[item("tobacco", {"valueCoding": NEVER})]),
    ]
    assert issues(intake_questionnaire(), items, completed=True) == []


def test_an_unknown_link_id_is_named() -> None:
    found = response_issues(
        intake_questionnaire(), [item("favourite-colour", {"valueString": "blue"})], completed=False
    )
    assert [(i.code, i.expression) for i in found] == [("structure", ("QuestionnaireResponse.item[0]",))]
    assert "no item with linkId 'favourite-colour'" in found[0].diagnostics


def test_an_item_out_of_its_group_is_named_with_where_it_belongs() -> None:
    found = response_issues(intake_questionnaire(), [item("tobacco", {"valueCoding": NEVER})], completed=False)
    assert found[0].expression == ("QuestionnaireResponse.item[0]",)
    assert "inside item 'lifestyle'" in found[0].diagnostics


def test_a_question_twice_and_a_group_that_does_not_repeat_twice_are_refused() -> None:
    items = [
        item("reason-for-visit", {"valueString": "a"}),
        item("reason-for-visit", {"valueString": "b"}),
        item("lifestyle", item=[item("tobacco", {"valueCoding": NEVER})]),
        item("lifestyle", item=[]),
    ]
    assert issues(intake_questionnaire(), items) == [
        ("structure", "QuestionnaireResponse.item[1]"),
        ("structure", "QuestionnaireResponse.item[3]"),
    ]


def test_a_repeating_group_may_occur_several_times() -> None:
    relative = {"valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}}
    family = [item("relative", relative), item("relative-condition", {"valueString": "Stroke"})]
    items = [item("family-history", item=family), item("family-history", item=family)]
    assert issues(intake_questionnaire(), items, completed=False) == []


def test_answers_on_groups_and_display_items_and_children_on_questions_are_refused() -> None:
    items = [
        item("intro", {"valueString": "read"}),
        item("lifestyle", {"valueBoolean": True}),
        item("reason-for-visit", {"valueString": "x"}, item=[item("has-symptoms")]),
    ]
    assert issues(intake_questionnaire(), items) == [
        ("structure", "QuestionnaireResponse.item[0]"),
        ("structure", "QuestionnaireResponse.item[1]"),
        ("structure", "QuestionnaireResponse.item[2]"),
    ]


def test_children_of_a_question_sit_under_its_answer_and_are_checked_there() -> None:
    questionnaire = one_question(
        type="boolean", item=[{"linkId": "since", "type": "date", "required": True, "text": "Since when?"}]
    )
    good = [item("q", {"valueBoolean": True, "item": [item("since", {"valueDate": "2026-10"})]})]
    assert issues(questionnaire, good, completed=True) == []
    bad = [item("q", {"valueBoolean": True, "item": [item("since", {"valueString": "October"})]})]
    assert issues(questionnaire, bad) == [("value", "QuestionnaireResponse.item[0].answer[0].item[0].answer[0]")]
    missing = [item("q", {"valueBoolean": True, "item": []})]
    assert issues(questionnaire, missing, completed=True) == [
        ("required", "QuestionnaireResponse.item[0].answer[0].item.where(linkId='since')")
    ]


# --- answer types, options, repeats, length ---------------------------------------------------------------------

GOOD_ANSWERS: dict[str, dict[str, Any]] = {
    "boolean": {"valueBoolean": True},
    "decimal": {"valueDecimal": 1.5},
    "integer": {"valueInteger": 3},
    "date": {"valueDate": "2026-11-02"},
    "dateTime": {"valueDateTime": "2026-11-02T10:00:00Z"},
    "time": {"valueTime": "10:30:00"},
    "string": {"valueString": "text"},
    "text": {"valueString": "long text"},
    "url": {"valueUri": "https://example.org"},
    "choice": {"valueCoding": {"code": "a"}},
    "open-choice": {"valueString": "something else"},
    "attachment": {"valueAttachment": {"contentType": "image/png", "url": "https://example.org/a.png"}},
    "reference": {"valueReference": {"reference": "Patient/1"}},
    "quantity": {"valueQuantity": {"value": 70, "unit": "kg"}},
}


@pytest.mark.parametrize("item_type", sorted(GOOD_ANSWERS))
def test_each_item_type_takes_its_answer_type(item_type: str) -> None:
    assert issues(one_question(type=item_type), [item("q", GOOD_ANSWERS[item_type])]) == []


@pytest.mark.parametrize("item_type", sorted(GOOD_ANSWERS))
def test_each_item_type_refuses_another_answer_type(item_type: str) -> None:
    wrong = GOOD_ANSWERS["integer"] if item_type != "integer" else GOOD_ANSWERS["decimal"]
    found = response_issues(one_question(type=item_type), [item("q", wrong)], completed=False)
    assert [(i.code, i.expression) for i in found] == [("value", ("QuestionnaireResponse.item[0].answer[0]",))]
    assert f"is a {item_type} item" in found[0].diagnostics


def test_a_choice_answer_must_be_an_answer_option() -> None:
    questionnaire = intake_questionnaire()
    other = {"valueCoding": {"system": SNOMED, "code": "00000"}}
    items = [item("lifestyle", item=[item("tobacco", other)])]
    assert issues(questionnaire, items) == [("code-invalid", "QuestionnaireResponse.item[0].item[0].answer[0]")]
    assert issues(questionnaire, [item("lifestyle", item=[item("tobacco", {"valueCoding": NEVER})])]) == []
    assert issues(questionnaire, [item("lifestyle", item=[item("tobacco", {"valueString": "never"})])]) == [
        ("value", "QuestionnaireResponse.item[0].item[0].answer[0]")
    ]


def test_an_open_choice_takes_free_text_but_not_a_code_outside_its_options() -> None:
    questionnaire = intake_questionnaire()
    assert issues(questionnaire, [item("conditions", {"valueString": "Gout"}, {"valueCoding": SMOKER})]) == [
        ("code-invalid", "QuestionnaireResponse.item[0].answer[1]")
    ]


def test_answer_options_of_other_types_are_answer_types_of_the_choice() -> None:
    questionnaire = one_question(type="choice", answerOption=[{"valueInteger": 1}, {"valueInteger": 2}])
    assert issues(questionnaire, [item("q", {"valueInteger": 2})]) == []
    assert issues(questionnaire, [item("q", {"valueInteger": 3})]) == [
        ("code-invalid", "QuestionnaireResponse.item[0].answer[0]")
    ]


def test_a_contained_answer_value_set_limits_the_codes() -> None:
    questionnaire = one_question(type="choice", answerValueSet="#yn")
    questionnaire["contained"] = [
        {
            "resourceType": "ValueSet",
            "id": "yn",
            "status": "active",
            "compose": {"include": [{"system": "http://x", "concept": [{"code": "Y"}, {"code": "N"}]}]},
        }
    ]
    assert issues(questionnaire, [item("q", {"valueCoding": {"system": "http://x", "code": "Y"}})]) == []
    assert issues(questionnaire, [item("q", {"valueCoding": {"system": "http://x", "code": "M"}})]) == [
        ("code-invalid", "QuestionnaireResponse.item[0].answer[0]")
    ]


def test_a_question_that_does_not_repeat_takes_one_answer() -> None:
    assert issues(one_question(type="string"), [item("q", {"valueString": "a"}, {"valueString": "b"})]) == [
        ("structure", "QuestionnaireResponse.item[0].answer[1]")
    ]
    assert (
        issues(one_question(type="string", repeats=True), [item("q", {"valueString": "a"}, {"valueString": "b"})]) == []
    )


def test_max_length_limits_text_answers() -> None:
    questionnaire = one_question(type="string", maxLength=5)
    assert issues(questionnaire, [item("q", {"valueString": "12345"})]) == []
    assert issues(questionnaire, [item("q", {"valueString": "123456"})]) == [
        ("value", "QuestionnaireResponse.item[0].answer[0]")
    ]


# --- enableWhen ---------------------------------------------------------------------------------------------------


def conditional(answer_type: str, operator: str, expected: dict[str, Any], **more: Any) -> dict[str, Any]:
    condition = {"question": "a", "operator": operator, **expected}
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {"linkId": "a", "type": answer_type, "repeats": True},
            {"linkId": "b", "type": "string", "enableWhen": [condition], **more},
        ],
    }


def enabled(questionnaire: dict[str, Any], *answers: dict[str, Any]) -> bool:
    """Whether b may be answered when a has ``answers``."""
    items = ([item("a", *answers)] if answers else []) + [item("b", {"valueString": "x"})]
    found = issues(questionnaire, items)
    assert found in ([], [("business-rule", f"QuestionnaireResponse.item[{len(items) - 1}]")])
    return not found


@pytest.mark.parametrize(
    ("operator", "expected", "answers", "result"),
    [
        ("exists", {"answerBoolean": True}, [{"valueInteger": 1}], True),
        ("exists", {"answerBoolean": True}, [], False),
        ("exists", {"answerBoolean": False}, [], True),
        ("exists", {"answerBoolean": False}, [{"valueInteger": 1}], False),
        ("=", {"answerInteger": 3}, [{"valueInteger": 3}], True),
        ("=", {"answerInteger": 3}, [{"valueInteger": 1}, {"valueInteger": 3}], True),
        ("=", {"answerInteger": 3}, [{"valueInteger": 4}], False),
        ("=", {"answerInteger": 3}, [], False),
        ("!=", {"answerInteger": 3}, [{"valueInteger": 4}], True),
        ("!=", {"answerInteger": 3}, [{"valueInteger": 4}, {"valueInteger": 3}], False),
        ("!=", {"answerInteger": 3}, [], False),
        (">", {"answerInteger": 3}, [{"valueInteger": 4}], True),
        (">", {"answerInteger": 3}, [{"valueInteger": 3}], False),
        ("<", {"answerInteger": 3}, [{"valueInteger": 2}], True),
        ("<", {"answerInteger": 3}, [{"valueInteger": 3}], False),
        (">=", {"answerInteger": 3}, [{"valueInteger": 3}], True),
        (">=", {"answerInteger": 3}, [{"valueInteger": 2}], False),
        ("<=", {"answerInteger": 3}, [{"valueInteger": 3}], True),
        ("<=", {"answerInteger": 3}, [{"valueInteger": 4}], False),
    ],
)
def test_enable_when_operators_on_integers(
    operator: str, expected: dict[str, Any], answers: list[dict[str, Any]], result: bool
) -> None:
    assert enabled(conditional("integer", operator, expected), *answers) is result


@pytest.mark.parametrize(
    ("answer_type", "operator", "expected", "answer", "result"),
    [
        ("boolean", "=", {"answerBoolean": True}, {"valueBoolean": True}, True),
        ("boolean", "=", {"answerBoolean": True}, {"valueBoolean": False}, False),
        ("decimal", ">", {"answerDecimal": 37.5}, {"valueDecimal": 38.1}, True),
        ("decimal", "<=", {"answerDecimal": 37.5}, {"valueDecimal": 38.1}, False),
        ("date", "<", {"answerDate": "2026-01-01"}, {"valueDate": "2025-12-31"}, True),
        ("date", ">=", {"answerDate": "2026-01-01"}, {"valueDate": "2025-12"}, False),
        (
            "dateTime",
            ">",
            {"answerDateTime": "2026-01-01T00:00:00Z"},
            {"valueDateTime": "2026-01-01T02:00:00+01:00"},
            True,
        ),
        ("time", "<", {"answerTime": "12:00:00"}, {"valueTime": "09:30:00"}, True),
        ("string", "=", {"answerString": "yes"}, {"valueString": "yes"}, True),
        ("string", "!=", {"answerString": "yes"}, {"valueString": "no"}, True),
        (
            "choice",
            "=",
            {"answerCoding": {"system": "http://s", "code": "1"}},
            {"valueCoding": {"system": "http://s", "code": "1"}},
            True,
        ),
        (
            "choice",
            "=",
            {"answerCoding": {"system": "http://s", "code": "1"}},
            {"valueCoding": {"system": "http://t", "code": "1"}},
            False,
        ),
        ("choice", "=", {"answerCoding": {"code": "1"}}, {"valueCoding": {"system": "http://t", "code": "1"}}, True),
        ("choice", ">", {"answerCoding": {"code": "1"}}, {"valueCoding": {"code": "2"}}, False),
        (
            "quantity",
            ">",
            {"answerQuantity": {"value": 100, "code": "kg", "system": "http://unitsofmeasure.org"}},
            {"valueQuantity": {"value": 120, "code": "kg", "system": "http://unitsofmeasure.org"}},
            True,
        ),
        (
            "quantity",
            ">",
            {"answerQuantity": {"value": 100, "code": "kg", "system": "http://unitsofmeasure.org"}},
            {"valueQuantity": {"value": 120, "code": "[lb_av]", "system": "http://unitsofmeasure.org"}},
            False,
        ),
        (
            "reference",
            "=",
            {"answerReference": {"reference": "Practitioner/1"}},
            {"valueReference": {"reference": "Practitioner/1"}},
            True,
        ),
    ],
)
def test_enable_when_compares_every_answer_type(
    answer_type: str, operator: str, expected: dict[str, Any], answer: dict[str, Any], result: bool
) -> None:
    assert enabled(conditional(answer_type, operator, expected), answer) is result


def test_enable_behavior_all_needs_every_condition_and_any_one() -> None:
    conditions = [
        {"question": "a", "operator": ">", "answerInteger": 1},
        {"question": "a", "operator": "<", "answerInteger": 5},
    ]
    both = conditional("integer", ">", {"answerInteger": 1})
    both["item"][1]["enableWhen"] = conditions
    both["item"][1]["enableBehavior"] = "all"
    assert enabled(both, {"valueInteger": 3}) is True
    assert enabled(both, {"valueInteger": 7}) is False
    both["item"][1]["enableBehavior"] = "any"
    assert enabled(both, {"valueInteger": 7}) is True


def test_the_demo_form_enables_cigarettes_per_day_only_for_smokers() -> None:
    questionnaire = intake_questionnaire()
    smoker = [
        item(
            "lifestyle",
            item=[item("tobacco", {"valueCoding": SMOKER}), item("cigarettes-per-day", {"valueInteger": 5})],
        )
    ]
    never = [
        item(
            "lifestyle", item=[item("tobacco", {"valueCoding": NEVER}), item("cigarettes-per-day", {"valueInteger": 5})]
        )
    ]
    assert issues(questionnaire, smoker) == []
    assert issues(questionnaire, never) == [("business-rule", "QuestionnaireResponse.item[0].item[1]")]


def test_a_disabled_item_is_not_required_and_an_enabled_one_is() -> None:
    questionnaire = intake_questionnaire()
    no = [item("medications", item=[item("takes-medications", {"valueBoolean": False})])]
    yes = [item("medications", item=[item("takes-medications", {"valueBoolean": True})])]
    assert ("required", "QuestionnaireResponse.item[0].item.where(linkId='current-medications')") not in issues(
        questionnaire, no, completed=True
    )
    assert ("required", "QuestionnaireResponse.item[0].item.where(linkId='current-medications')") in issues(
        questionnaire, yes, completed=True
    )


def test_items_inside_a_disabled_item_are_disabled_whatever_their_own_conditions() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {"linkId": "a", "type": "boolean"},
            {
                "linkId": "g",
                "type": "group",
                "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
                "item": [{"linkId": "c", "type": "string", "required": True}],
            },
        ],
    }
    assert issues(questionnaire, [item("a", {"valueBoolean": False})], completed=True) == []
    answered = [item("a", {"valueBoolean": False}), item("g", item=[item("c", {"valueString": "x"})])]
    assert issues(questionnaire, answered) == [("business-rule", "QuestionnaireResponse.item[1]")]


def test_the_answer_of_a_disabled_question_counts_as_absent() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {"linkId": "a", "type": "boolean"},
            {
                "linkId": "b",
                "type": "boolean",
                "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
            },
            {
                "linkId": "c",
                "type": "string",
                "enableWhen": [{"question": "b", "operator": "exists", "answerBoolean": False}],
            },
        ],
    }
    items = [item("a", {"valueBoolean": False}), item("b", {"valueBoolean": True}), item("c", {"valueString": "x"})]
    assert issues(questionnaire, items) == [("business-rule", "QuestionnaireResponse.item[1]")]


def test_enable_when_reads_the_nearest_occurrence_in_a_repeating_group() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {
                "linkId": "med",
                "type": "group",
                "repeats": True,
                "item": [
                    {"linkId": "taken", "type": "boolean"},
                    {
                        "linkId": "dose",
                        "type": "string",
                        "enableWhen": [{"question": "taken", "operator": "=", "answerBoolean": True}],
                    },
                ],
            }
        ],
    }
    items = [
        item("med", item=[item("taken", {"valueBoolean": True}), item("dose", {"valueString": "10 mg"})]),
        item("med", item=[item("taken", {"valueBoolean": False}), item("dose", {"valueString": "5 mg"})]),
    ]
    assert issues(questionnaire, items) == [("business-rule", "QuestionnaireResponse.item[1].item[1]")]


# --- required items -----------------------------------------------------------------------------------------------


def test_required_items_are_needed_only_once_completed() -> None:
    questionnaire = intake_questionnaire()
    assert issues(questionnaire, [], completed=False) == []
    required = ("reason-for-visit", "symptoms", "medications", "allergies", "lifestyle")
    assert issues(questionnaire, [], completed=True) == [
        ("required", f"QuestionnaireResponse.item.where(linkId='{link_id}')") for link_id in required
    ]


def test_a_required_item_present_without_answer_is_named() -> None:
    questionnaire = intake_questionnaire()
    items = [
        item("reason-for-visit"),
        item("symptoms", item=[item("has-symptoms", {"valueBoolean": True})]),
        item("medications", item=[item("takes-medications", {"valueBoolean": False})]),
        item("allergies", item=[item("has-allergies", {"valueBoolean": False})]),
        item("lifestyle", item=[item("tobacco")]),
    ]
    assert sorted(issues(questionnaire, items, completed=True)) == [
        ("required", "QuestionnaireResponse.item[0]"),
        ("required", "QuestionnaireResponse.item[1].item.where(linkId='symptom')"),
        ("required", "QuestionnaireResponse.item[4]"),
        ("required", "QuestionnaireResponse.item[4].item[0]"),
    ]


def test_a_required_group_needs_an_answer_inside_it() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [{"linkId": "g", "type": "group", "required": True, "item": [{"linkId": "x", "type": "string"}]}],
    }
    assert issues(questionnaire, [item("g", item=[item("x")])], completed=True) == [
        ("required", "QuestionnaireResponse.item[0]")
    ]
    assert issues(questionnaire, [item("g", item=[item("x", {"valueString": "y"})])], completed=True) == []
