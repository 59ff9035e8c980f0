""".env.example documents every setting, and holds no secret."""

from __future__ import annotations

import re
from pathlib import Path

from batonflow.settings import Settings

EXAMPLE = Path(__file__).parent.parent / ".env.example"


def test_every_setting_is_documented_without_a_value_for_secrets() -> None:
    text = EXAMPLE.read_text()
    named = set(re.findall(r"^# (BATONFLOW_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert named == {f"BATONFLOW_{name.upper()}" for name in Settings.model_fields}
    assert re.search(r"^# BATONFLOW_SECRET_KEY=$", text, re.MULTILINE)
