"""The jupyter-server extension: ``FlowsApp`` wires the REST API into a Jupyter server.

It is loaded through ``jupyter_flows._jupyter_server_extension_points`` inside JupyterLab,
and, being an ``ExtensionApp``, can also run as a server of its own.
"""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from jupyter_flows._version import __version__
from jupyter_flows.server.handlers import base, version


class FlowsApp(ExtensionApp):
    name = "jupyter_flows"
    description = "jupyter-flows: notebook-first workflows (REST API server)"
    version = __version__
    load_other_extensions = True

    def initialize_handlers(self) -> None:
        self.handlers.extend(version.default_handlers)
        # Last: anything else below /api/flows/ is a JSON 404.
        self.handlers.extend(base.fallback_handlers)
