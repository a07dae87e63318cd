"""The jupyter-flows server: a jupyter-server extension (and, later, a standalone server).

Imported lazily by the Jupyter entry points, never by `import jupyter_flows`, so a flow
run's process does not pay for tornado and jupyter_server.
"""
