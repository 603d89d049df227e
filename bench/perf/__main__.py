"""``python -m bench.perf``: see bench/perf/runner.py."""

from bench.perf.runner import main

main()
