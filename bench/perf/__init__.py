"""The performance suite of issue 8: wrk against `fhir-server serve --workers 2`, with the framework ceiling.

Run it with ``bench/perf/run.sh`` (a throw-away PostgreSQL) or ``python -m bench.perf --help``.
"""
