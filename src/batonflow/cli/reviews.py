"""`batonflow reviews`: list and show waiting reviews and inputs, and decide them."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batonflow.cli import display
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, fail, run, settings_for
from batonflow.errors import InvalidInput

if TYPE_CHECKING:
    from batonflow.store.db import Conn
    from batonflow.store.reviews import ReviewRow
    from batonflow.workflows.actions import Decision

reviews_app = typer.Typer(no_args_is_help=True, help="Decide review and input steps.")


@reviews_app.command("list")
def reviews_list(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Reviews and inputs waiting for a decision, oldest first, each with what it shows the
    person (a drafted email, say)."""
    from batonflow.cli.session import open_session
    from batonflow.store import reviews as review_store

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await session.read(review_store.list_reviews)
        if as_json:
            dump(
                [
                    {
                        "id": r.id,
                        "run_id": r.run_id,
                        "step": r.step_key,
                        "kind": r.kind,
                        "subject": r.subject,
                        "reviewers": r.reviewers,
                        "created_at": r.created_at,
                    }
                    for r in rows
                ]
            )
            return 0
        if not rows:
            console.print("no reviews are waiting", highlight=False)
            return 0
        for row in rows:
            _print_heading(row)
            if row.subject is not None:
                _print_text(display.data(row.subject, 2))
            console.print()
        console.print(
            "decide with: batonflow reviews approve <id> (or reject, edit --data '{...}'); "
            "an input step: batonflow reviews submit <id> --data '{...}'",
            highlight=False,
            markup=False,
        )
        return 0

    raise typer.Exit(run(main()))


def _print_heading(row: ReviewRow) -> None:
    what = "input for" if row.kind == "input" else "review of"
    console.print(
        f"[bold]{display.short_id(row.id)}[/bold]  {what} step '{row.step_key}' · run "
        f"{display.short_id(row.run_id)} · {display.ago(row.created_at)}",
        highlight=False,
    )


def _print_text(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


@reviews_app.command("show")
def reviews_show(review_id: str, as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """Everything a reviewer needs to decide: the subject, written out, and the instructions."""
    from batonflow.cli.session import open_session

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            review = await session.read(functools.partial(_find, prefix=review_id))
        if as_json:
            dump({k: getattr(review, k) for k in review.__slots__})
        else:
            _print_review(review)
        return 0

    raise typer.Exit(run(main()))


def _print_review(review: ReviewRow) -> None:
    what = "input" if review.kind == "input" else "review"
    console.print(
        f"{what} {review.id}\nstep '{review.step_key}' (attempt {review.attempt}) of run "
        f"{review.run_id}\n{review.status} · requested {display.when(review.created_at)} "
        f"({display.ago(review.created_at)}) · reviewers: {', '.join(review.reviewers)}",
        highlight=False,
        markup=False,
    )
    lines: dict[str, Any] = {}
    if review.instructions:
        lines["instructions"] = review.instructions
    if review.subject is not None:
        lines["subject"] = review.subject
    if review.input_schema is not None:
        lines["schema"] = review.input_schema
    if review.decision is not None:
        lines["decision"] = (
            f"{review.decision} by {review.decided_by} at {display.when(review.decided_at)}"
        )
        if review.comment:
            lines["comment"] = review.comment
        if review.data is not None:
            lines["data"] = review.data
    _print_text(display.data(lines))
    if review.decision is None:
        short = display.short_id(review.id)
        if review.kind == "input":
            hint = f"batonflow reviews submit {short} --data '{{...}}'"
        else:
            edit = f", edit {short} --data '{{...}}'" if review.allow_edit else ""
            hint = f"batonflow reviews approve {short} (or reject {short}{edit})"
        console.print(f"decide with: {hint}", highlight=False, markup=False)


async def _find(conn: Conn, tenant_id: str, prefix: str) -> ReviewRow:
    """The review whose id starts with (or is) `prefix`."""
    from batonflow.store import reviews as review_store

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

        from batonflow.cli.driving import act_then_watch
        from batonflow.cli.session import open_session
        from batonflow.runs import reviews as review_service

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
