"""The embedded local backend: a workspace folder with a SQLite store, artifacts and an agent."""

from opml.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
