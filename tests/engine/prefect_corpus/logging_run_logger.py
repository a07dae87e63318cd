"""``get_run_logger()`` in a flow or task logs for that run; DEBUG lines stay hidden at
the default INFO level.

Prefect 3 docs, how-to add-logging, "Emit custom logs".
"""

from jupyter_flows import flow, task
from jupyter_flows.logging import get_run_logger


@task(name="log-example-task")
def logger_task():
    logger = get_run_logger()
    logger.info("INFO level log message from a task.")
    logger.debug("DEBUG level log message from a task.")


@flow(name="log-example-flow")
def logger_flow():
    logger = get_run_logger()
    logger.info("INFO level log message.")
    logger.debug("DEBUG level log message.")
    logger.error("ERROR level log message.")
    logger.critical("CRITICAL level log message.")
    logger_task()


logger_flow()

# log: INFO INFO level log message from a task.
# log: INFO INFO level log message.
# log: ERROR ERROR level log message.
# log: CRITICAL CRITICAL level log message.
# log: INFO Task run 'log-example-task-0' - INFO level log message from a task.
# no log: DEBUG level log message
