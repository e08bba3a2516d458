"""Tabular data: reading CSV from anywhere a user has it, and profiling it."""
