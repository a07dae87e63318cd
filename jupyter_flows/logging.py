"""Run loggers, where Prefect keeps them (``prefect.logging``)."""

from jupyter_flows.engine.logs import get_run_logger

__all__ = ["get_run_logger"]
