"""Prometheus metrics of the server (``GET /metrics``): requests, latency, database pools, background work, tokens
and logins. :mod:`.instruments` names every metric; the others feed them or serve them."""
