"""Model-written help for the clinic: the intake summary of a QuestionnaireResponse (intake_summary.py)."""
