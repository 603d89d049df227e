"""Every metric the server exposes, in one place (Prometheus naming: https://prometheus.io/docs/practices/naming/).

Labels take values from small fixed sets only (FHIR interaction codes and ``$operation`` names declared on routes,
served resource types, route templates, HTTP status codes, grant types, outcome codes): never ids, raw paths, user
names or anything else a client chooses, so the number of series stays bounded and no PHI reaches a label.

Under ``serve --workers N`` (N > 1) the metrics are kept in prometheus-client's multiprocess mode
(:mod:`fhir_server.metrics.multiprocess`); each gauge says how the workers' values combine.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "fhir_server"

REQUESTS = Counter(
    f"{PREFIX}_requests",
    "HTTP requests answered, by FHIR interaction (or route template outside the FHIR API), resource type and status",
    ["interaction", "resource_type", "status"],
)
LATENCY = Histogram(
    f"{PREFIX}_request_duration_seconds",
    "Seconds from a request's arrival to its answer's last byte, by FHIR interaction (or route template)",
    ["interaction"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

POOL_CHECKED_OUT = Gauge(
    f"{PREFIX}_db_pool_checked_out",
    "Database connections in use, by pool (requests, counters, async_reads), summed over the live workers",
    ["pool"],
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    f"{PREFIX}_db_pool_max",
    "Database connections a pool may open (kept plus overflow), summed over the live workers",
    ["pool"],
    multiprocess_mode="livesum",
)

TOKENS = Counter(
    f"{PREFIX}_oauth_token_requests",
    "Requests to the token endpoint, by grant type and outcome (issued, or the OAuth 2 error code)",
    ["grant_type", "outcome"],
)
LOGIN_FAILURES = Counter(
    f"{PREFIX}_login_failures",
    "Failed sign-ins at the authorization pages: rejected (wrong email or password) or throttled (too many failures)",
    ["reason"],
)

IMAGING_ROUNDS = Counter(
    f"{PREFIX}_imaging_sync_rounds",
    "Rounds of the Orthanc watcher, by outcome (success, orthanc_unavailable, failed)",
    ["outcome"],
)
IMAGING_LAST_SUCCESS = Gauge(
    f"{PREFIX}_imaging_sync_last_success_timestamp_seconds",
    "Unix time of the Orthanc watcher's last successful round (lag: time() minus this)",
    multiprocess_mode="max",
)

JOBS = Gauge(
    f"{PREFIX}_jobs",
    "Jobs of the durable queue waiting or running, by kind and state (queued, running), as the database holds them "
    "at the scrape",
    ["kind", "state"],
    multiprocess_mode="livemostrecent",
)
JOBS_OLDEST_QUEUED_AGE = Gauge(
    f"{PREFIX}_jobs_oldest_queued_age_seconds",
    "Seconds the oldest queued job of each kind has waited (0: none waits), at the scrape",
    ["kind"],
    multiprocess_mode="livemostrecent",
)
JOBS_FINISHED = Counter(
    f"{PREFIX}_jobs_finished",
    "Job runs ended in this process, by kind and outcome (completed, failed, cancelled, interrupted: given back to "
    "the queue by a stopping worker, lost: taken over by another worker after the lease ran out)",
    ["kind", "outcome"],
)
