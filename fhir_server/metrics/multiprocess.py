"""prometheus-client's multiprocess mode, used only when ``serve --workers N`` runs several worker processes.

A scrape reaches one worker; in this mode every worker writes its values to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``) and the worker answering the scrape reads all of them
(https://prometheus.github.io/client_python/multiprocess/). ``serve`` makes a fresh directory for each run (an
operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used as given and must be emptied between runs) and removes it when
the server stops. The variable must be set before prometheus-client is imported: the workers, started after it,
inherit it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from prometheus_client import CollectorRegistry
from prometheus_client import multiprocess as client_multiprocess
from prometheus_client.registry import REGISTRY

DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def enabled() -> bool:
    """True in a process whose metrics are shared with other workers."""
    return bool(os.environ.get(DIRECTORY))


def registry() -> CollectorRegistry:
    """The registry a scrape renders: every worker's metrics in multiprocess mode, else this process's own."""
    if not enabled():
        return REGISTRY
    combined = CollectorRegistry()
    client_multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    return combined


def prepare(workers: int) -> None:
    """Before starting ``workers`` processes: a fresh metrics directory for them when there are several (and no
    directory is given), removed when this process exits."""
    if workers < 2 or enabled():
        return
    directory = tempfile.mkdtemp(prefix="fhir-server-metrics-")
    os.environ[DIRECTORY] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
