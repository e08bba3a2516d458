"""Training pipelines: the spec, the ``pipeline`` run type and the REST gateway for published pipelines."""
