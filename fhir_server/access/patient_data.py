"""Which resource types hold no patient's data, so that a patient's app may read them within its clinic.

SMART ``patient/`` scopes confine a caller to the patient's compartment
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html), but a patient app also needs the resources
the record points at that belong to nobody's compartment: who the doctor is (Practitioner, PractitionerRole), the
clinic and its places (Organization, Location, HealthcareService, Endpoint), what a medication is (Medication), the
forms to fill in (Questionnaire), terminology (ValueSet, CodeSystem). US Core patient apps read exactly those.

The official Patient CompartmentDefinition (http://hl7.org/fhir/R4/compartmentdefinition-patient.html) lists every
R4 type, those that can hold a patient's data with the search parameters that tie them to one. The types it lists
with no parameter are the candidates; :data:`PATIENT_DATA_WITHOUT_PARAMETER` removes those that can nonetheless
carry a patient's data without a compartment parameter to confine them. A type the definition does not list at all
(``Parameters``) is never a candidate.
"""

from __future__ import annotations

from functools import cache

from fhir_server.access.compartment import compartment_params

PATIENT_DATA_WITHOUT_PARAMETER = frozenset(
    {
        "Binary",  # raw content (a PDF report, an image) of any patient; securityContext may name them
        "Bundle",  # documents, messages and collections carry whole patient records
        "Parameters",  # a stored Parameters can carry any resource (not in the definition; listed to be explicit)
        "Subscription",  # criteria name patients (Observation?patient=...); its channel holds endpoints and headers
        "BiologicallyDerivedProduct",  # collection.source names the donor Patient
        "Contract",  # subject, signers and parties name patients (consents, coverage contracts)
        "Device",  # Device.patient: an implant or a patient's own device (US Core Implantable Device)
        "EnrollmentResponse",  # the outcome of a patient's insurance enrollment
        "GuidanceResponse",  # subject: decision support results about a Patient
        "Linkage",  # item.resource links any records, patients' included
        "MessageHeader",  # focus: the patient data a message carries
        "OperationOutcome",  # diagnostics and expressions may quote any record
        "PaymentNotice",  # request/response: payments of a patient's claims
        "PaymentReconciliation",  # detail.request/response: the same
        "TestScript",  # fixture.resource: a fixture may be any record
        "VerificationResult",  # target: any resource, a patient's record included
    }
)
"""Types the CompartmentDefinition lists with no parameter that can still hold a patient's data (the reason beside
each): a ``patient/`` scope reads none of them."""


@cache
def types_without_patient_data() -> frozenset[str]:
    """The R4 types a ``patient/`` scope may read within the clinic beyond the patient's compartment: listed by the
    CompartmentDefinition with no parameter, minus :data:`PATIENT_DATA_WITHOUT_PARAMETER`."""
    listed = compartment_params()
    return frozenset(t for t, params in listed.items() if not params) - PATIENT_DATA_WITHOUT_PARAMETER


def holds_no_patient_data(resource_type: str) -> bool:
    """True when ``resource_type`` belongs to no patient's compartment and carries no patient's data."""
    return resource_type in types_without_patient_data()
