"""Tornado handlers, one module per REST resource, each ending in its URL table."""
