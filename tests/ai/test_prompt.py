"""What the model is sent: the answers, labelled by their questions, and nothing that identifies the patient."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fhir_server.ai.prompt import INSTRUCTIONS, Answered, answered, messages
from fhir_server.ai.redaction import REDACTED, Redactor, asks_identity
from fhir_server.db import Patient
from fhir_server.demo.intake import intake_questionnaire


def patient() -> Patient:
    return Patient(
        given_name="Olivia",
        family_name="García López",
        mrn="MRN-2026-00042",
        birth_date=date(1980, 5, 14),
        phone="+1 555 2001",
        email="olivia.garcia@mail.example.org",
        address={"line": ["12 Maple Ave"], "city": "Springfield", "postalCode": "01103"},
        extra={
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "123-45-6789"}],
            "name": [{"family": "García López", "given": ["Olivia", "Grace"]}],
            "telecom": [{"system": "phone", "value": "(555) 987-6543"}],
        },
    )


REDACT = Redactor.for_patient(patient())


@pytest.mark.parametrize(
    "text",
    [
        "My name is Olivia García López",
        "olivia grace is allergic",
        "I was born on 1980-05-14",
        "born 05/14/1980",
        "birthday: May 14, 1980",
        "call me on +1 555 2001 or 555-987-6543",
        "mail olivia.garcia@mail.example.org",
        "my MRN is MRN-2026-00042 and SSN 123-45-6789",
        "I live at 12 Maple Ave, 01103",
        "write to anyone@example.com",
        "my other number is +44 20 7946 0958",
    ],
)
def test_identifying_values_in_free_text_are_redacted(text: str) -> None:
    redacted = REDACT(text)
    assert REDACTED in redacted
    for secret in ("Olivia", "García", "Grace", "1980", "2001", "6543", "@", "00042", "6789", "Maple", "01103", "0958"):
        assert secret.lower() not in redacted.lower(), redacted


@pytest.mark.parametrize(
    "text",
    ["lisinopril 10 mg daily", "Cough since 2026-10-02, 3 times a night", "Blood pressure 140/90", "Gracefully ok"],
)
def test_clinical_text_is_kept(text: str) -> None:
    assert REDACT(text) == text


@pytest.mark.parametrize(
    "label",
    ["Patient name", "full-name", "Date of birth", "dob", "Phone number", "E-mail", "Home address", "Insurance ID"],
)
def test_questions_asking_for_identity_or_contact_details_are_recognised(label: str) -> None:
    assert asks_identity(label)


@pytest.mark.parametrize("label", ["Medication name and dose", "Current medications", "Symptom onset", "Allergies"])
def test_clinical_questions_are_not_taken_for_identity_questions(label: str) -> None:
    assert not asks_identity(label)


def test_answers_are_labelled_with_the_questionnaire_text_and_their_sections() -> None:
    items = [
        {"linkId": "reason-for-visit", "answer": [{"valueString": "Persistent cough"}]},
        {
            "linkId": "allergies",
            "item": [
                {"linkId": "has-allergies", "answer": [{"valueBoolean": True}]},
                {
                    "linkId": "allergy",
                    "item": [
                        {"linkId": "allergy-substance", "answer": [{"valueString": "penicillin"}]},
                        {
                            "linkId": "allergy-reaction",
                            "answer": [{"valueCoding": {"code": "126485001", "display": "Hives"}}],
                        },
                    ],
                },
            ],
        },
        {"linkId": "lifestyle", "item": [{"linkId": "cigarettes-per-day", "answer": [{"valueInteger": 5}]}]},
    ]
    found = answered(intake_questionnaire()["item"], items, REDACT)
    assert found == [
        Answered("", "What is the main reason for your visit?", ("Persistent cough",)),
        Answered("Allergies", "Are you allergic to any medication, food or material?", ("yes",)),
        Answered("Allergies > Allergy", "What are you allergic to?", ("penicillin",)),
        Answered("Allergies > Allergy", "What happens when you are exposed to it?", ("Hives",)),
        Answered("Lifestyle", "How many cigarettes a day?", ("5",)),
    ]


def test_only_answers_are_sent_never_identity_questions_references_or_attachments() -> None:
    items = [
        {"linkId": "patient-name", "text": "Patient name", "answer": [{"valueString": "Olivia García"}]},
        {"linkId": "dob", "text": "Date of birth", "answer": [{"valueDate": "1980-05-14"}]},
        {"linkId": "gp", "text": "Your GP", "answer": [{"valueReference": {"reference": "Practitioner/1"}}]},
        {"linkId": "scan", "text": "Upload", "answer": [{"valueAttachment": {"url": "http://x/1.pdf"}}]},
        {"linkId": "weight", "text": "Weight", "answer": [{"valueQuantity": {"value": 72.5, "unit": "kg"}}]},
        {"linkId": "onset", "text": "Since when?", "answer": [{"valueDate": "2026-10-01"}]},
        {"linkId": "notes", "text": "Notes", "answer": [{"valueString": "Olivia here, call 555 2001"}]},
    ]
    sent = messages(answered(None, items, REDACT))
    assert sent[0] == {"role": "system", "content": INSTRUCTIONS}
    assert json.loads(sent[1]["content"]) == [
        {"question": "Weight", "answers": ["72.5 kg"]},
        {"question": "Since when?", "answers": ["2026-10-01"]},
        {"question": "Notes", "answers": [f"{REDACTED} here, call {REDACTED}"]},
    ]


def test_children_of_an_answer_are_labelled_with_their_question() -> None:
    items = [
        {
            "linkId": "mood",
            "text": "Low mood?",
            "answer": [
                {
                    "valueBoolean": True,
                    "item": [{"linkId": "since", "text": "Since", "answer": [{"valueDate": "2026-10"}]}],
                }
            ],
        }
    ]
    assert answered(None, items, Redactor()) == [
        Answered("", "Low mood?", ("yes",)),
        Answered("Low mood?", "Since", ("2026-10",)),
    ]
