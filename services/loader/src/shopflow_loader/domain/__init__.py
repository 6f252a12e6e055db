"""Loader domain logic: pure functions, no AWS."""
