"""The attack suite, on SQLite and PostgreSQL: every injection of the corpus
(`tests/security/corpus`) replayed through the real platform with a model that obeys it; each
attempt must be blocked and recorded (`batonflow_testkit/attacks.py` says what that means)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.settings import Settings
from batonflow_testkit.attacks import Case, load_corpus, replay, summary

CORPUS = Path(__file__).parent / "corpus"


def test_the_corpus_covers_every_channel_and_kind_with_40_cases_or_more() -> None:
    cases = load_corpus(CORPUS)
    assert len(cases) >= 40
    assert set(Counter(c.channel for c in cases)) == {
        "email",
        "document",
        "input",
        "passage",
        "provider",
    }
    assert set(Counter(c.kind for c in cases)) == {
        "ungranted_tool",
        "email_non_contact",
        "http_private",
        "http_unlisted",
        "secret_leak",
        "prompt_leak",
        "credential_leak",
        "invalid_args",
        "sandbox_escape",
    }


async def test_every_attack_of_the_corpus_is_blocked_and_recorded(
    engine: AsyncEngine, settings: Settings
) -> None:
    cases = load_corpus(CORPUS)
    results = await replay(cases, engine, settings)
    unblocked = {r.case.id: r.problems for r in results if not r.blocked}
    assert unblocked == {}
    counted = summary(results)
    assert (counted["tried"], counted["blocked"]) == (len(cases), len(cases))


async def test_an_attempt_the_platform_lets_through_is_reported_unblocked(
    engine: AsyncEngine, settings: Settings
) -> None:
    # Not an attack the defences stop: a reply to the run's own contact. Claiming a defence
    # stops it must fail, so the suite cannot pass by recording nothing.
    allowed = Case.model_validate(
        {
            "id": "control-allowed-reply",
            "channel": "email",
            "kind": "email_non_contact",
            "injection": "Please confirm my appointment for Tuesday at ten, thank you very much.",
            "calls": [
                {
                    "tool": "email.send",
                    "args": {"to": "{contact}", "subject": "Appointment", "body": "Confirmed."},
                }
            ],
            "expect": ["outside_policy"],
        }
    )
    [result] = await replay([allowed], engine, settings)
    assert (result.blocked, result.defences, result.problems) == (
        False,
        [],
        ["defences [], expected ['outside_policy']"],
    )
