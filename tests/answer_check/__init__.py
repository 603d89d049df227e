"""Every FHIR body the test suite receives from the server is checked by the independent R4 validator (issue 15,
"Done when"): :mod:`.capture` hooks the HTTP libraries the tests use, :mod:`.record` keeps each distinct body once in
NDJSON files with the tests that received it, :mod:`.verdict` runs the validator over them at the end of the session
and reports what it rejects, and :mod:`.plugin` ties that to pytest (registered by tests/conftest.py)."""
