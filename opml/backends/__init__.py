"""Backends: one interface (``base.Backend``), one implementation per place models live."""
