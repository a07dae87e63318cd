"""``get_run_logger()`` outside a flow or task run raises ``MissingContextError``.

Prefect 3 docs, how-to add-logging (the warning on ``get_run_logger``).
"""

from jupyter_flows.exceptions import MissingContextError
from jupyter_flows.logging import get_run_logger

try:
    get_run_logger()
except MissingContextError:
    print("MissingContextError")

# out: MissingContextError
