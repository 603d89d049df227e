"""The ``export`` job kind: the Bulk Data runner registered with the durable job queue (:mod:`fhir_server.jobs`).

:func:`fhir_server.fhir.bulk.runner.run_export` writes the NDJSON files and returns the manifest's result;
:func:`fhir_server.fhir.bulk.runner.cleanup` deletes a job's files when it is cancelled, expires
(``FHIR_SERVER_EXPORT_EXPIRE_HOURS`` after kick-off: :func:`fhir_server.fhir.bulk.start.start` sets ``expires_at``)
or is re-run after its worker died. Importing this module registers the kind (the worker imports it through
:mod:`fhir_server.jobs.handlers`).
"""

from __future__ import annotations

from fhir_server.fhir.bulk import runner
from fhir_server.fhir.bulk.start import KIND
from fhir_server.jobs import worker

worker.register(KIND, runner.run_export, runner.cleanup)
