"""The scoring service: the ASGI app every deployed model runs, its auth, validation and telemetry."""
