"""Benchmarks that print figures: ``python -m opml.bench automl|serving|pipelines --help``."""
