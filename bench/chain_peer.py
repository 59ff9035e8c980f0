"""The peer of `bench/engine_celery.py`: a plain Celery app whose chains are the same no-op steps.

Its workers run as `celery -A chain_peer worker` with this folder on PYTHONPATH; the broker
and the result backend (the only way a plain chain tells its caller it finished) come from
CHAIN_PEER_BROKER and CHAIN_PEER_BACKEND, its queue from CHAIN_PEER_QUEUE. Delivery is configured as Batonflow's wake-ups are
(late acks, a message given back when its worker dies, one message reserved per free slot), but
nothing is recorded anywhere else: a chain lost with its message is lost.
"""

from __future__ import annotations

import os

from celery import Celery

app = Celery(
    "chain_peer",
    broker=os.environ.get("CHAIN_PEER_BROKER", "redis://127.0.0.1:6379/12"),
    backend=os.environ.get("CHAIN_PEER_BACKEND", "redis://127.0.0.1:6379/13"),
    set_as_current=False,
)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_default_queue=os.environ.get("CHAIN_PEER_QUEUE", "chain_peer"),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="chain_peer.noop")
def noop(previous: str | None = None, name: str = "") -> str:
    """A no-op step: returns its name, as a Batonflow `demo.noop` step records a result."""
    return name
