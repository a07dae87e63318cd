"""Tornado handlers, one module per REST resource, each ending in its URL table.

A handler imports its wire models (``server.wire``, pydantic) in the method that parses the
body, and the service modules import them for type checking only: loading the extension
does not import pydantic, which would otherwise add to every Jupyter server's start-up and
idle memory. The first request with a body pays for it, once.
"""
