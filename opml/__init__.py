"""opml: an operator dashboard for operationalizing machine learning."""

from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound, OpmlError, Unauthorized

__version__ = "0.1.0"

__all__ = ["AlreadyExists", "Conflict", "InvalidInput", "NotFound", "OpmlError", "Unauthorized", "__version__"]
