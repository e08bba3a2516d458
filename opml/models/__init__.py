"""Model artifacts: save, hash, verify and load; the manifest that describes a model's inputs."""
