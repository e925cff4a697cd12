"""The translation catalogs are complete and follow the code (issue 18, languages).

Fails when a language's catalog has an empty or fuzzy entry, or a translation whose
placeholders differ from its msgid's, or when ``messages.pot`` no longer matches the
strings the code and templates mark (someone added or changed a string and did not
re-extract). The failure message says the commands that fix it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from moorage.i18n.catalogs import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("fr", "es", "ru")

HOW_TO_FIX = """
To update the catalogs (README, "Languages"):
    uv run python scripts/catalogs.py update
then translate every empty and fuzzy entry (remove the '#, fuzzy' line once it is
right) in src/moorage/locale/{fr,es,ru}/LC_MESSAGES/messages.po, and run
    uv run pytest -q tests/unit/test_catalogs.py"""

PLACEHOLDER = re.compile(r"%\(\w+\)[srd]|%%|\{\w+\}")


def _ids(path: Path) -> set[object]:
    with path.open("rb") as po:
        return {message.id for message in read_po(po) if message.id}


def test_the_template_lists_exactly_the_strings_the_code_marks(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "catalogs.py"), "extract", str(fresh)],
        check=True,
        cwd=ROOT,
    )
    now, kept = _ids(fresh), _ids(LOCALE_DIR / "messages.pot")
    added, removed = sorted(map(str, now - kept)), sorted(map(str, kept - now))
    assert not added and not removed, (
        f"messages.pot is out of date: {len(added)} new string(s) {added[:10]}, "
        f"{len(removed)} gone {removed[:10]}." + HOW_TO_FIX
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_and_none_is_fuzzy(language):
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    template = _ids(LOCALE_DIR / "messages.pot")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(forms):
            problems.append(f"untranslated: {message.id!r}")
        else:
            singular = message.id[0] if isinstance(message.id, tuple) else message.id
            wanted = set(PLACEHOLDER.findall(singular))
            if isinstance(message.id, tuple):
                wanted |= set(PLACEHOLDER.findall(message.id[1]))
            for form in forms:
                if not set(PLACEHOLDER.findall(form)) <= wanted:
                    problems.append(f"placeholders differ: {message.id!r} -> {form!r}")
    missing = template - {m.id for m in catalog if m.id}
    problems += [f"missing: {msgid!r}" for msgid in sorted(map(str, missing))]
    assert not problems, (
        f"{language}: {len(problems)} entr(ies) to fix:\n  "
        + "\n  ".join(problems[:30])
        + HOW_TO_FIX
    )


def test_russian_has_three_plural_forms():
    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        assert read_po(po).num_plurals == 3
