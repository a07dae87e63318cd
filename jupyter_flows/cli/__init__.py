"""The front ends of jupyter-flows: ``jupyter flows …`` and the ``%flow`` magic.

Both are clients of the REST API and share :mod:`~jupyter_flows.cli.common` (the client,
one-line errors, parsing, name lookups) and :mod:`~jupyter_flows.cli.register`. Nothing
below this package imports it. Importing the package loads nothing: ``%load_ext
jupyter_flows`` loads only the magic, and a command loads the command group
(:mod:`~jupyter_flows.cli.main`).
"""

from __future__ import annotations


def main() -> None:
    """The ``jupyter-flows`` console script (``jupyter flows`` finds it on PATH)."""
    from jupyter_flows.cli.main import cli

    cli(prog_name="jupyter flows")
