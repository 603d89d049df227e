"""Intake forms: QuestionnaireResponses checked against their Questionnaire, and the appointment's intake status."""
