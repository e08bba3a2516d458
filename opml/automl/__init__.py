"""AutoML for tabular classification: guardrails, featurization, search, ensembles, metrics."""
