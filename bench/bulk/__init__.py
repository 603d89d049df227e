"""Bulk Data benchmarks (issue 17): NDJSON generation and import speed."""
