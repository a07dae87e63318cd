"""What every handler shares: :class:`FlowsContext`, kept in the tornado settings.

``FlowsApp`` makes it when the server starts and puts it at ``settings[SETTINGS_KEY]``; the
handlers, the event stream and the authorizer read it from there. It lives in a module of
its own so that the handlers need not import the app that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jupyter_flows.credentials import Keyring

if TYPE_CHECKING:
    from jupyter_flows.server.background.retention import Pruner
    from jupyter_flows.server.dispatch import Dispatcher
    from jupyter_flows.server.event_bus import EventBus
    from jupyter_flows.server.transactions import TransactionRunner
    from jupyter_flows.store import Database

#: Where FlowsApp puts its shared objects in the tornado settings.
SETTINGS_KEY = "jupyter_flows_context"


@dataclass
class FlowsContext:
    """What every handler shares (``settings[SETTINGS_KEY]``)."""

    db: Database
    bus: EventBus
    runner: TransactionRunner
    max_body_bytes: int
    dispatcher: Dispatcher
    #: Folder below the server root where ``POST artifacts/{id}/open`` writes notebooks.
    open_folder: str = "jupyter-flows-runs"
    #: How long a claimed attempt's lease lasts without a heartbeat renewing it (the
    #: reaper's threshold).
    lease_seconds: float = 60.0
    #: The credentials key (read on first use: ``jupyter_flows.credentials``).
    keyring: Keyring = field(default_factory=Keyring)
    #: Retention with the server's settings (``POST retention/prune``); None: not set up.
    pruner: Pruner | None = None
