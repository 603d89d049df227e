"""The demo clinic's intake form (clinic-intake.questionnaire.json) and the answers its demo patients give.

The answers are QuestionnaireResponse items that conform to the Questionnaire (the demo seed's tests check them
with fhir_server.intake.response_validation): every required item of a completed form, nested as the form nests
them, choice answers among the options, enableWhen respected. Deterministic for a given random generator.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson

QUESTIONNAIRE_FILE = Path(__file__).resolve().parent / "clinic-intake.questionnaire.json"
QUESTIONNAIRE_ID = "clinic-intake"
SNOMED = "http://snomed.info/sct"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

_SYMPTOMS = {
    "Persistent cough": ["Dry cough", "Tiredness"],
    "Skin rash": ["Itchy red rash on both forearms"],
    "Knee pain": ["Pain in the right knee when climbing stairs", "Knee swelling in the evening"],
    "Chest discomfort on exertion": ["Tightness in the chest when walking uphill", "Shortness of breath"],
    "Headaches": ["Headaches behind the eyes, worse in the afternoon", "Sensitivity to light"],
    "Blood pressure follow-up": ["Occasional dizziness when standing up"],
}
_SEVERITIES = [("255604002", "Mild"), ("6736007", "Moderate"), ("24484000", "Severe")]
_REACTIONS = {
    "penicillin": [("271807003", "Rash"), ("126485001", "Hives")],
    "peanuts": [("267038008", "Swelling"), ("267036007", "Shortness of breath")],
    "latex": [("271807003", "Rash")],
}
_CONDITIONS = [("38341003", "High blood pressure"), ("44054006", "Type 2 diabetes"), ("195967001", "Asthma")]
_CONDITIONS += [("13644009", "High cholesterol"), ("35489007", "Depression")]
_FREE_CONDITIONS = ["Hypothyroidism", "Migraine", "Gout"]
_RELATIVES = [("MTH", "mother"), ("FTH", "father"), ("SIB", "sibling")]
_FAMILY_CONDITIONS = ["Heart attack before 60", "Type 2 diabetes", "Breast cancer", "Stroke", "High blood pressure"]
_TOBACCO = {"never": ("266919005", "Never smoked tobacco"), "former": ("8517006", "Ex-smoker")}
_TOBACCO["current"] = ("77176002", "Smoker")
_SECOND_MEDICATIONS = ["vitamin D 1000 IU daily", "ibuprofen 400 mg as needed", "omeprazole 20 mg daily"]


@cache
def _questionnaire_json() -> bytes:
    return QUESTIONNAIRE_FILE.read_bytes()


def intake_questionnaire() -> dict[str, Any]:
    """The clinic's intake Questionnaire (a fresh copy), id ``clinic-intake``."""
    resource: dict[str, Any] = orjson.loads(_questionnaire_json())
    return {**resource, "id": QUESTIONNAIRE_ID}


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"valueCoding": {"system": system, "code": code, "display": display}}


def _item(link_id: str, text: str, *answers: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link_id, "text": text, "answer": list(answers)}


def _group(link_id: str, text: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link_id, "text": text, "item": list(items)}


def _symptoms(rng: random.Random, reason: str | None, visit: date) -> dict[str, Any]:
    found = _SYMPTOMS.get(reason or "", [])[: rng.randint(1, 2)]
    has = _item("has-symptoms", "Do you currently have any symptoms?", {"valueBoolean": bool(found)})
    groups = []
    for description in found:
        onset = visit - timedelta(days=rng.randint(3, 90))
        code, display = rng.choice(_SEVERITIES)
        groups.append(
            _group(
                "symptom",
                "Symptom",
                _item("symptom-description", "Describe the symptom", {"valueString": description}),
                _item("symptom-onset", "When did it start?", {"valueDate": onset.isoformat()}),
                _item("symptom-severity", "How severe is it?", _coding(SNOMED, code, display)),
            )
        )
    return _group("symptoms", "Symptoms", has, *groups)


def _medications(rng: random.Random, medication: str) -> dict[str, Any]:
    taken = [] if medication == "none" else [medication]
    if taken and rng.random() < 0.4:
        taken.append(rng.choice(_SECOND_MEDICATIONS))
    question = "Do you take any medications, vitamins or supplements?"
    items = [_item("takes-medications", question, {"valueBoolean": bool(taken)})]
    if taken:
        text = "List each one with its dose and how often you take it"
        items.append(_item("current-medications", text, *({"valueString": m} for m in taken)))
    return _group("medications", "Medications", *items)


def _allergies(allergy: str) -> dict[str, Any]:
    reactions = _REACTIONS.get(allergy)
    question = "Are you allergic to any medication, food or material?"
    items = [_item("has-allergies", question, {"valueBoolean": reactions is not None})]
    if reactions is not None:
        substance = _item("allergy-substance", "What are you allergic to?", {"valueString": allergy})
        reaction = _item(
            "allergy-reaction",
            "What happens when you are exposed to it?",
            *(_coding(SNOMED, code, display) for code, display in reactions),
        )
        items.append(_group("allergy", "Allergy", substance, reaction))
    return _group("allergies", "Allergies", *items)


def _history(rng: random.Random) -> list[dict[str, Any]]:
    answers = [_coding(SNOMED, *c) for c in rng.sample(_CONDITIONS, k=rng.randint(0, 2))]
    if rng.random() < 0.15:
        answers.append({"valueString": rng.choice(_FREE_CONDITIONS)})
    items = [_item("conditions", "Which conditions have you been diagnosed with?", *answers)] if answers else []
    for code, display in rng.sample(_RELATIVES, k=rng.randint(0, 2)):
        relative = _item("relative", "Relative", _coding(ROLE_CODE, code, display))
        condition = _item("relative-condition", "Condition", {"valueString": rng.choice(_FAMILY_CONDITIONS)})
        text = "Family history: conditions of your parents, brothers and sisters, or children"
        items.append(_group("family-history", text, relative, condition))
    return items


def _lifestyle(rng: random.Random, smoker: bool) -> dict[str, Any]:
    habit = "current" if smoker else rng.choice(["never", "never", "former"])
    items = [_item("tobacco", "Do you smoke or use tobacco?", _coding(SNOMED, *_TOBACCO[habit]))]
    if habit == "current":
        items.append(_item("cigarettes-per-day", "How many cigarettes a day?", {"valueInteger": rng.randint(3, 20)}))
    drinks = "How many alcoholic drinks do you have in a week?"
    items.append(_item("alcohol-drinks-per-week", drinks, {"valueInteger": rng.choice([0, 0, 2, 4, 7, 10])}))
    exercise = "On how many days a week do you exercise for 30 minutes or more?"
    items.append(_item("exercise-days-per-week", exercise, {"valueInteger": rng.randint(0, 6)}))
    return _group("lifestyle", "Lifestyle", *items)


def completed_intake(
    rng: random.Random, *, reason: str | None, medication: str, allergy: str, smoker: bool, visit: date
) -> list[dict[str, Any]]:
    """The items of a completed intake form of a patient coming for ``reason`` on ``visit``."""
    items = [
        _item("reason-for-visit", "What is the main reason for your visit?", {"valueString": reason or "Check-up"}),
        _symptoms(rng, reason, visit),
        _medications(rng, medication),
        _allergies(allergy),
        *_history(rng),
        _lifestyle(rng, smoker),
    ]
    if rng.random() < 0.3:
        note = {"valueString": "I would like to discuss my test results from last year."}
        items.append(_item("additional-notes", "Is there anything else you would like your doctor to know?", note))
    return items
