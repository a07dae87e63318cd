"""An async task is a coroutine function: call it and await it, or run it with
``asyncio.run``; awaited in an async flow it is a task run of that flow.

Prefect 3 docs, concepts/tasks, "Supported functions" (async functions).
"""

import asyncio

from jupyter_flows import flow, task


@task
async def print_message():
    await asyncio.sleep(0.01)
    print("Hello, I'm an async task")
    return "done"


@flow
async def my_flow():
    return await print_message()


print(asyncio.run(print_message()))
print(asyncio.run(my_flow()))

# out: Hello, I'm an async task
# out: done
# out: Hello, I'm an async task
# out: done
