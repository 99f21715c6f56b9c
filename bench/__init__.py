"""Benchmarks for dgs on the Chinook data; run ``python bench/index_and_query.py`` (see bench/README.md)."""
