"""The Celery side: the app (its configuration), the one task, and the publisher of wake-ups.

A wake-up is the task `batonflow.execute_step(tenant_id, run_id, step_key, dispatch)` sent to the
step's queue. Its id is `<run>:<step>:<dispatch>`, so a revoke names exactly one claim, and a
republished wake-up shares the id of the one it replaces. Messages are acknowledged after the
task returns (`task_acks_late`), given back when a worker process dies mid-task
(`task_reject_on_worker_lost`), and a worker reserves one message per free slot
(`worker_prefetch_multiplier=1`). There is no result backend: results are in the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from celery import Celery

from batonflow.errors import ConfigError
from batonflow.settings import Settings
from batonflow.workflows.attempts import Wake

log = logging.getLogger("batonflow.cluster")
TASK = "batonflow.execute_step"
CHECK_LEASES = "batonflow_check_leases"
SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")


def broker_url(settings: Settings) -> str:
    url = settings.broker_url
    if not url:
        raise ConfigError(
            "BATONFLOW_EXECUTOR=celery needs BATONFLOW_BROKER_URL (redis:// or amqp://)"
        )
    if not url.startswith(SCHEMES):
        raise ConfigError(f"BATONFLOW_BROKER_URL must start with redis:// or amqp://, got '{url}'")
    return url


def task_id(wake: Wake) -> str:
    return f"{wake.run_id}:{wake.key}:{wake.dispatch}"


def headers(wake: Wake) -> dict[str, str]:
    """The message's own headers: the run's W3C trace context, so the trace continues across
    the broker (the worker's `wake` span is its child)."""
    return {"traceparent": wake.traceparent} if wake.traceparent else {}


def celery_app(settings: Settings) -> Celery:
    """The Celery app of this process, configured for wake-ups (see the module docstring)."""
    app = Celery("batonflow", broker=broker_url(settings), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.default_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_send_sent_event=True,  # Celery events, for the usual monitoring tools
        worker_send_task_events=True,
        worker_hijack_root_logger=False,  # the process's logging is Batonflow's
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        enable_utc=True,
    )
    return app


class Publisher:
    """Sends wake-ups from one thread of its own, so a commit never waits on the broker. A send
    that fails is logged and left to the sweep: the step stays announced, and is announced again
    once `republish_seconds` pass without a claim."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batonflow-publish")
        self._lock = threading.Lock()
        self.sent = 0

    def __call__(self, wakes: list[Wake]) -> None:
        self._thread.submit(self.send, list(wakes))

    def send(self, wakes: Iterable[Wake]) -> None:
        """Send now, in the caller's thread."""
        with self._lock:
            try:
                with self.app.producer_or_acquire() as producer:
                    for wake in wakes:
                        self.app.send_task(
                            TASK,
                            args=[wake.tenant_id, wake.run_id, wake.key, wake.dispatch],
                            queue=wake.queue,
                            routing_key=wake.queue,
                            task_id=task_id(wake),
                            headers=headers(wake),
                            producer=producer,
                        )
                        self.sent += 1
            except Exception:
                log.exception("could not publish wake-ups; the sweep will publish them again")

    def check_leases(self) -> None:
        """Ask every worker to check its leases now (the `batonflow_check_leases` control
        command): an attempt whose run was cancelled or failed stops at once, not at its next
        heartbeat."""
        self._thread.submit(self._broadcast, CHECK_LEASES)

    def _broadcast(self, command: str) -> None:
        try:
            self.app.control.broadcast(command)
        except Exception:
            log.warning("could not broadcast %s; heartbeats will find it", command, exc_info=True)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
