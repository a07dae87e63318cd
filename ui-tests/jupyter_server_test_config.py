"""JupyterLab server used by the Galata tests (started by playwright.config.js)."""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821  (provided by Jupyter when it loads this file)
configure_jupyter_server(c)

c.ServerApp.ip = "127.0.0.1"
# Not 8888, so the tests can run beside a `make lab`.
c.ServerApp.port = int(os.environ.get("UI_TESTS_PORT", "8890"))
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
# CI runs as root; without this the server refuses to start.
c.ServerApp.allow_root = True
