"""`batonflow reviews`: list and show waiting reviews and inputs, and decide them."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from batonflow.cli.driving import act_then_watch
from batonflow.cli.session import open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, fail, run, settings_for
from batonflow.errors import InvalidInput
from batonflow.runs import reviews as review_service
from batonflow.store import reviews as review_store
from batonflow.store.db import Conn
from batonflow.workflows.actions import Decision

reviews_app = typer.Typer(no_args_is_help=True, help="Decide review and input steps.")


@reviews_app.command("list")
def reviews_list(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Reviews and inputs waiting for a decision."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(review_store.list_reviews)
        items = [
            {
                "id": r.id,
                "run_id": r.run_id,
                "step": r.step_key,
                "kind": r.kind,
                "subject": r.subject,
                "reviewers": r.reviewers,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
        if as_json:
            dump(items)
            return 0
        if not items:
            console.print("no reviews are waiting")
        table = Table("id", "run", "step", "kind", "subject")
        for item in items:
            table.add_row(
                item["id"],
                item["run_id"],
                item["step"],
                item["kind"],
                json.dumps(item["subject"])[:80],
            )
        if items:
            console.print(table)
        return 0

    raise typer.Exit(run(main()))


@reviews_app.command("show")
def reviews_show(review_id: str, tenant: TenantOpt = None) -> None:
    """Everything a reviewer needs to decide."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            review = await session.read(functools.partial(_find, prefix=review_id))
        dump({k: getattr(review, k) for k in review.__slots__})
        return 0

    raise typer.Exit(run(main()))


async def _find(conn: Conn, tenant_id: str, prefix: str) -> review_store.ReviewRow:
    """The review whose id starts with (or is) `prefix`."""
    full = await review_store.find_review_by_prefix(conn, tenant_id, prefix)
    return await review_store.get_review(conn, tenant_id, full)


def _decide_command(decision: Decision, doc: str) -> Callable[..., None]:
    def command(
        review_id: str,
        comment: Annotated[str | None, typer.Option(help="A note kept with the decision.")] = None,
        data: Annotated[
            str | None, typer.Option(help="JSON: the edited subject (edit) or the input (submit).")
        ] = None,
        detach: Annotated[
            bool, typer.Option(help="Record the decision and leave the run to a worker.")
        ] = False,
        as_json: JsonFlag = False,
        tenant: TenantOpt = None,
    ) -> None:
        payload = None
        if data is not None:
            try:
                payload = json.loads(data)
            except json.JSONDecodeError as exc:
                fail(InvalidInput(f"--data is not JSON: {exc.msg} at column {exc.colno}"))
        elif decision in ("edit", "submit"):
            fail(InvalidInput(f"'{decision}' needs --data with JSON"))

        async def main() -> int:
            async with open_session(settings_for(tenant)) as session:
                platform, tenant_id = session.platform, session.tenant_id
                now = platform.now()
                decided: list[str] = []

                async def act(conn: Conn) -> str:
                    review = await _find(conn, tenant_id, review_id)
                    decided.append(review.id)
                    await review_service.decide(
                        conn,
                        platform.specs,
                        tenant_id=tenant_id,
                        review_id=review.id,
                        decision=decision,
                        actor=session.actor,
                        now=now,
                        data=payload,
                        comment=comment,
                    )
                    return review.run_id

                said = None if as_json else (lambda: f"review {decided[-1]}: {decision}")
                return await act_then_watch(session, act, detach, as_json, said=said)

        raise typer.Exit(run(main()))

    command.__doc__ = doc
    return command


reviews_app.command("approve")(
    _decide_command("approve", "Approve a review step; the run continues here.")
)
reviews_app.command("reject")(_decide_command("reject", "Reject a review step."))
reviews_app.command("edit")(
    _decide_command("edit", "Approve a review step with an edited subject (--data).")
)
reviews_app.command("submit")(_decide_command("submit", "Give an input step its data (--data)."))
