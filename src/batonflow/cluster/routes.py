"""Which queue a step's wake-up goes to: `BATONFLOW_QUEUE_ROUTES` names queues by capability
(or tool), by the agent that provides it, or by step kind, tried in that order; a step no route
names goes to `BATONFLOW_DEFAULT_QUEUE`. A map step goes where its item's capability goes."""

from __future__ import annotations

from collections.abc import Mapping

from batonflow.agents.registry import Registry
from batonflow.errors import NotFound
from batonflow.workflows.spec import WorkflowSpec


class Routes:
    def __init__(self, routes: Mapping[str, str], default: str, registry: Registry) -> None:
        self.routes = dict(routes)
        self.default = default
        self.registry = registry
        # By spec object (kept alive beside the answer, so its id is never reused) and key.
        self._memo: dict[tuple[int, str], tuple[WorkflowSpec, str]] = {}

    def queues(self) -> list[str]:
        """Every queue a step may be routed to."""
        return sorted({self.default, *self.routes.values()})

    def __call__(self, spec: WorkflowSpec, key: str) -> str:
        memo = (id(spec), key)
        known = self._memo.get(memo)
        if known is None:
            known = self._memo[memo] = (spec, self._route(spec, key))
        return known[1]

    def _route(self, spec: WorkflowSpec, key: str) -> str:
        step = spec.by_id[key]
        kind = step.kind
        inner = getattr(step, "step", None)  # a map step's item
        target = inner if inner is not None else step
        names: list[str] = []
        capability = getattr(target, "capability", None)
        tool = getattr(target, "tool", None)
        if capability is not None:
            names += [capability, *self._agent(capability, tool=False)]
        elif tool is not None:
            names += [tool, *self._agent(tool, tool=True)]
        names.append(kind)
        for name in names:
            if name in self.routes:
                return self.routes[name]
        return self.default

    def _agent(self, name: str, *, tool: bool) -> list[str]:
        try:
            return [self.registry.capability(name, tool=tool).agent]
        except NotFound:
            return []
