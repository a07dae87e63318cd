"""The flow engine: runs flows and tasks in this process.

It knows nothing of HTTP or SQL: states and logs leave it through ``engine.reporter``.
"""
