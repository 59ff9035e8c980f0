"""Caps on how far one run may fan out, so that one tenant's spec cannot flood the queue.

`BATONFLOW_MAX_MAP_ITEMS` bounds the items of one `map` step, `BATONFLOW_MAX_WORKFLOW_DEPTH` how
deep sub-workflows may nest, and `BATONFLOW_MAX_RUNS_PER_ROOT` how many runs (the root and
every sub-workflow run under it) one top-level run may make; sub-workflow runs are not counted
by the tenant's active-runs quota, so this is what bounds them. A step past a cap fails, not
retried, with `fanout_exceeded` and a message naming the cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from batonflow.errors import FanOutExceeded
from batonflow.settings import Settings
from batonflow.store import runs as run_store


@dataclass(frozen=True, slots=True)
class FanOut:
    map_items: int = 1000
    depth: int = 5
    runs_per_root: int = 200

    @classmethod
    def of(cls, settings: Settings) -> FanOut:
        return cls(settings.max_map_items, settings.max_workflow_depth, settings.max_runs_per_root)

    def check_map(self, items: int) -> None:
        if items > self.map_items:
            raise FanOutExceeded(
                f"the map has {items} items, over the limit of {self.map_items} "
                "(BATONFLOW_MAX_MAP_ITEMS); split the list or raise the limit",
                details={"items": items, "limit": self.map_items},
            )

    async def check_child(
        self,
        read: Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]],
        tenant_id: str,
        run_id: str,
        step_key: str,
    ) -> None:
        """Refuse a sub-workflow run for the step `step_key` of `run_id` past the depth or the
        per-root cap. Sibling steps starting their children together count each other in key
        order; children of other runs in the tree starting at the same moment may still pass
        the per-root cap by their number."""

        async def measure(conn: Any) -> tuple[int, int]:
            chain = await run_store.lineage(conn, tenant_id, run_id)
            runs = await run_store.count_tree(conn, tenant_id, chain[-1])
            runs += await run_store.starting_children(conn, tenant_id, run_id, step_key)
            return len(chain), runs

        depth, runs = await read(measure)  # the new run would be at depth `depth` (root: 0)
        if depth > self.depth:
            raise FanOutExceeded(
                f"sub-workflows would nest {depth} deep, over the limit of {self.depth} "
                "(BATONFLOW_MAX_WORKFLOW_DEPTH)",
                details={"depth": depth, "limit": self.depth},
            )
        if runs >= self.runs_per_root:
            raise FanOutExceeded(
                f"this run's tree already has {runs} runs, the limit (BATONFLOW_MAX_RUNS_PER_ROOT)",
                details={"runs": runs, "limit": self.runs_per_root},
            )


DEFAULT = FanOut()
