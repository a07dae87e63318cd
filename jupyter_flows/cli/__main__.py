"""``python -m jupyter_flows.cli``: the same as ``jupyter flows``."""

from jupyter_flows.cli import main

main()
