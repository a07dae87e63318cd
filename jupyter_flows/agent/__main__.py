"""``python -m jupyter_flows.agent --queue NAME``: an agent with nothing else loaded.

``jupyter flows agent start`` is the same agent behind the CLI; this entry point is what the
Jupyter server starts for its local agent (no click or rich in memory).
"""

from __future__ import annotations

import sys

from jupyter_flows.agent.agent import main_options, run_agent

if __name__ == "__main__":
    sys.exit(run_agent(**main_options()))
