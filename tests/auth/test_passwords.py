"""argon2id hashing: verify, the dummy check for unknown accounts, rehash when parameters rise."""

from __future__ import annotations

from dirty_equals import IsStr

from batonflow.auth.accounts import Passwords, passwords_for
from batonflow.settings import Settings

PASSWORD = "correct horse battery staple"


async def test_a_hash_is_argon2id_with_the_configured_parameters_and_verifies() -> None:
    passwords = Passwords(time_cost=1, memory_kib=1024, parallelism=1)
    stored = await passwords.hash(PASSWORD)
    assert stored == IsStr(regex=r"\$argon2id\$v=19\$m=1024,t=1,p=1\$.+")
    assert [
        await passwords.verify(stored, PASSWORD),
        await passwords.verify(stored, PASSWORD + "!"),
        await passwords.verify("not a hash", PASSWORD),
    ] == [True, False, False]


async def test_an_unknown_account_is_checked_against_a_dummy_hash_and_refused() -> None:
    passwords = Passwords(time_cost=1, memory_kib=1024, parallelism=1)
    assert await passwords.verify(None, PASSWORD) is False
    assert passwords._dummy == IsStr(regex=r"\$argon2id\$v=19\$m=1024,t=1,p=1\$.+")


async def test_a_hash_made_with_lower_parameters_needs_a_rehash() -> None:
    weak = Passwords(time_cost=1, memory_kib=1024, parallelism=1)
    strong = Passwords(time_cost=2, memory_kib=2048, parallelism=1)
    stored = await weak.hash(PASSWORD)
    assert [weak.needs_rehash(stored), strong.needs_rehash(stored)] == [False, True]
    assert strong.needs_rehash("not a hash") is True


def test_settings_choose_the_hasher_and_the_owasp_defaults_apply() -> None:
    defaults = passwords_for(Settings())
    assert (defaults._hasher.time_cost, defaults._hasher.memory_cost) == (2, 19_456)
    assert defaults is passwords_for(Settings())
    light = passwords_for(Settings(argon2_time_cost=1, argon2_memory_kib=1024))
    assert (light._hasher.time_cost, light._hasher.memory_cost, light._hasher.parallelism) == (
        1,
        1024,
        1,
    )
