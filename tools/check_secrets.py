"""Fail when the secret scan finds something the reviewed baseline does not list.

`detect-secrets scan` runs over every tracked file (but the lock files and generated API types);
a finding counts as known when the baseline has the same file, type and secret hash, wherever
the line moved to. A new finding is printed with its place: remove the secret, or, when it is
test data, mark its line `# pragma: allowlist secret` or refresh the baseline with
`detect-secrets scan --baseline .secrets.baseline` and commit it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SKIP = r"(^|/)(\.secrets\.baseline|node_modules|\.venv|web/package-lock\.json|requirements\.lock|web/openapi\.json|web/src/openapi\.ts)$"


def findings(report: dict) -> set[tuple[str, str, str]]:
    return {
        (path, item["type"], item["hashed_secret"])
        for path, items in report["results"].items()
        for item in items
    }


def main() -> int:
    scanner = Path(sys.executable).with_name("detect-secrets")
    scanned = subprocess.run(  # noqa: S603 - the venv's own detect-secrets, fixed arguments
        [str(scanner), "scan", "--exclude-files", SKIP],
        check=True,
        capture_output=True,
        text=True,
    )
    now = json.loads(scanned.stdout)
    known = findings(json.loads(Path(".secrets.baseline").read_text()))
    new = sorted(findings(now) - known)
    for path, kind, _ in new:
        lines = [i["line_number"] for i in now["results"][path] if i["type"] == kind]
        print(f"{path}:{lines[0]}: {kind} not in .secrets.baseline", file=sys.stderr)
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main())
