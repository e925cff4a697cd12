"""The translation catalogs' one tool (README, "Languages").

    uv run python scripts/catalogs.py update        # re-extract, merge into every language
    uv run python scripts/catalogs.py extract FILE  # only write the template to FILE

``update`` rewrites ``src/moorage/locale/messages.pot`` from the code (Python and
the Jinja templates, ``babel.cfg``) and merges it into each
``<lang>/LC_MESSAGES/messages.po``: new strings arrive with an empty translation,
changed ones as fuzzy. Translate those, then run ``tests/unit/test_catalogs.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "src" / "moorage" / "locale"
POT = LOCALE / "messages.pot"

KEYWORDS = (
    "MoorageError",
    # the errors' messages (moorage.errors): their first argument is the msgid, which
    # the API's error handler translates into the request's language
    "InvalidInput",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "Gone",
    "PayloadTooLarge",
    "QuotaExceeded",
    "TooManyAttempts",
    "RuntimeUnavailable",
)


def _pybabel(*args: str) -> None:
    # Its warnings about f-strings (messages built in place, left English) are noise here.
    done = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "--quiet", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"pybabel {args[0]} failed:\n{done.stderr}")


def extract(output: Path) -> None:
    """Write the message template of the code as it is now to ``output``."""
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    _pybabel(
        "extract", "-F", "babel.cfg", "-o", str(output), "--no-location", "--sort-output",
        "--no-wrap", "--project=Moorage", "--copyright-holder=Moorage contributors",
        "--msgid-bugs-address=", *keywords, "src",
    )  # fmt: skip


def languages() -> list[str]:
    """The languages with a catalog."""
    return sorted(p.parent.parent.name for p in LOCALE.glob("*/LC_MESSAGES/messages.po"))


def update() -> None:
    """Re-extract the template and merge it into every language's catalog."""
    extract(POT)
    for language in languages():
        _pybabel(
            "update", "-l", language, "-i", str(POT), "-d", str(LOCALE), "--no-wrap",
            "--ignore-obsolete", "--no-fuzzy-matching",
        )  # fmt: skip
    print(f"updated {POT.relative_to(ROOT)} and {', '.join(languages())}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "update"
    if command == "extract" and len(sys.argv) == 3:
        extract(Path(sys.argv[2]).resolve())
    elif command == "update":
        update()
    else:
        sys.exit(__doc__)
