"""A flow given ``task_runner=DaskTaskRunner()`` runs its submitted tasks on Dask, with the
same results, states and logs.

Prefect 3 docs, how-to run-work-concurrently, "Using a different task runner"; concepts
/task-runners. (Prefect imports it from ``prefect_dask.task_runners``; here it ships with
the engine, and the cluster runs its workers as threads to keep the example light.)
"""

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.futures import wait
from jupyter_flows.task_runners import DaskTaskRunner


@task
def stop_at_floor(floor: int) -> int:
    get_run_logger().info("elevator stops on floor %d", floor)
    return floor


@flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 1, "processes": False}))
def elevator():
    floors = [stop_at_floor.submit(floor) for floor in range(3, 0, -1)]
    wait(floors)
    return [future.result() for future in floors]


if __name__ == "__main__":
    print(elevator())

# out: [3, 2, 1]
# log: INFO elevator stops on floor 2
