"""The demo clinic's own content, installed by fhir_server.seed: its intake Questionnaire and realistic answers."""
