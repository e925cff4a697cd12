"""Where the catalogs are and how one is loaded: on its language's first use, once.

The ``.po`` files are read directly (``babel.messages.pofile``) rather than compiled
``.mo`` files: a fresh checkout runs (``make run``) without a build step and the
repository holds no generated binaries. Reading a catalog takes a few
milliseconds, once per process and language; what stays in memory is a
``babel.support.Translations`` (a dict of the messages), not the parsed catalog.

``MOORAGE_EXTRA_LOCALE_DIR`` names a directory of more catalogs in the same layout
(``<lang>/LC_MESSAGES/messages.po``); the tests put their pseudo-locale there.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import Translations

__all__ = ["LOCALE_DIR", "available", "catalog_path", "translations"]

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

_lock = threading.Lock()


def _extra_dir() -> Path | None:
    extra = os.environ.get("MOORAGE_EXTRA_LOCALE_DIR")
    return Path(extra) if extra else None


@functools.cache
def available() -> tuple[str, ...]:
    """The language codes served: English and every language with a catalog."""
    codes = ["en"]
    for root in (LOCALE_DIR, _extra_dir()):
        if root and root.is_dir():
            codes += sorted(p.name for p in root.iterdir() if catalog_path(p.name, root).is_file())
    return tuple(dict.fromkeys(codes))


def catalog_path(language: str, root: Path | None = None) -> Path:
    """The ``.po`` file of ``language`` under ``root`` (the package's catalogs by default)."""
    return (root or LOCALE_DIR) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> Translations:
    """The messages of ``language``, read from its ``.po`` on first use. An unknown
    language gives an empty set (every message stays English)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with _lock:
        for root in (LOCALE_DIR, _extra_dir()):
            path = catalog_path(language, root) if root else None
            if path and path.is_file():
                with path.open("rb") as po:
                    catalog = read_po(po)
                buffer = io.BytesIO()
                write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
                buffer.seek(0)
                return Translations(buffer, domain=DOMAIN)
    return Translations()
