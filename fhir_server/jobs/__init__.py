"""The durable job queue and its workers (DESIGN.md "Background work"): bulk export now, subscription delivery and
the imaging feed later. :mod:`~fhir_server.jobs.queue` puts jobs in and finds them; :mod:`~fhir_server.jobs.worker`
registers the handler of each kind and runs jobs; :mod:`~fhir_server.jobs.loop` runs them in the server and in
``fhir-server worker``."""
