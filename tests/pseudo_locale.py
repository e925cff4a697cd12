"""A pseudo-language for the browser tests: every msgstr of ``messages.pot`` is its
msgid with accented letters between ⟦ and ⟧ (``⟦Ĺóg íñ⟧``), placeholders, HTML
entities and tags kept. A page in it shows at once which text was never marked:
whatever is visible outside the markers (tests/e2e/test_pseudo_locale_in_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from moorage.i18n.catalogs import LOCALE_DIR

__all__ = ["CODE", "pseudo", "write_pseudo_locale"]

CODE = "qps"
"""The pseudo-language's code (the one Microsoft uses for pseudo-localization)."""

_KEEP = re.compile(r"(%\(\w+\)[srd]|%%|\{\w+\}|&#?\w+;|<[^>]*>)")
_ACCENTS = str.maketrans("aceinouyAEINOUCYs", "áçéíñóúýÁÉÍÑÓÚÇÝš")


def pseudo(text: str) -> str:
    """``text`` accented and marked, its placeholders, entities and tags unchanged."""
    parts = _KEEP.split(text)
    return "⟦" + "".join(p if _KEEP.fullmatch(p) else p.translate(_ACCENTS) for p in parts) + "⟧"


def write_pseudo_locale(root: Path) -> Path:
    """Write ``<root>/qps/LC_MESSAGES/messages.po`` from the template; returns ``root``
    (for ``MOORAGE_EXTRA_LOCALE_DIR``)."""
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    catalog = Catalog(locale=None, fuzzy=False)  # no locale: English's two plural forms
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            catalog.add(message.id, string=tuple(pseudo(form) for form in message.id))
        else:
            catalog.add(message.id, string=pseudo(message.id))
    path = root / CODE / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog)
    return root
