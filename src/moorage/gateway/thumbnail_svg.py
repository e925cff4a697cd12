"""Thumbnails drawn as SVG: a terminal's screen (from a pyte ``Screen``), and the
placeholder shown when there is no screen to draw.

The SVG is text Moorage writes itself: every character from the workspace is
escaped (``&``, ``<``, ``>``, quotes) and characters XML 1.0 forbids (C0 controls
but tab and newlines, lone surrogates, U+FFFE/U+FFFF) become U+FFFD, so a
workspace cannot put markup, let alone script, into the image. It carries no
``<style>`` and no script; the route serves it with a ``default-src 'none'``
policy besides.

Geometry: a cell is :data:`CELL_WIDTH` × :data:`CELL_HEIGHT` user units; the
``viewBox`` holds the whole screen and ``width`` is at most :data:`MAX_WIDTH`
pixels, the height following the screen's proportions. Each text run has a
``textLength`` of its cells, so columns line up whatever the viewer's monospace
font.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyte

__all__ = ["CELL_HEIGHT", "CELL_WIDTH", "MAX_WIDTH", "escape_text", "placeholder_svg", "screen_svg"]

MAX_WIDTH = 480
"""Widest a thumbnail is shown, in CSS pixels."""
CELL_WIDTH = 6
CELL_HEIGHT = 12
FONT_SIZE = 10
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
DEFAULT_FG = "#d0d0d0"
DEFAULT_BG = "#1e1e1e"
CURSOR = "#a0a0a0"

PALETTE = {
    "black": "#000000",
    "red": "#cd0000",
    "green": "#00cd00",
    "brown": "#cdcd00",
    "blue": "#0000ee",
    "magenta": "#cd00cd",
    "cyan": "#00cdcd",
    "white": "#e5e5e5",
    "brightblack": "#7f7f7f",
    "brightred": "#ff0000",
    "brightgreen": "#00ff00",
    "brightbrown": "#ffff00",
    "brightblue": "#5c5cff",
    "brightmagenta": "#ff00ff",
    "brightcyan": "#00ffff",
    "brightwhite": "#ffffff",
}
"""pyte's colour names (``brown`` is ANSI yellow) as xterm draws them."""

_HEX = re.compile(r"^[0-9a-fA-F]{6}$")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape_text(text: str) -> str:
    """``text`` safe inside an XML element or a double-quoted attribute: markup
    characters escaped, characters XML 1.0 forbids replaced by U+FFFD."""
    text = _NOT_XML.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _colour(name: str, default: str) -> str:
    """A pyte colour (a name, ``default`` or ``rrggbb``) as ``#rrggbb``."""
    if name == "default":
        return default
    if _HEX.match(name):
        return f"#{name.lower()}"
    return PALETTE.get(name, default)


def _open(width_units: int, height_units: int, background: str) -> list[str]:
    """The root element and background of an SVG with this ``viewBox``."""
    width = min(MAX_WIDTH, width_units)
    height = max(1, round(height_units * width / width_units))
    return [
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{width}" height="{height}" viewBox="0 0 {width_units} {height_units}" '
        'preserveAspectRatio="xMidYMid meet">',
        f'<rect width="{width_units}" height="{height_units}" fill="{background}"/>',
    ]


_Run = tuple[int, int, str, str, bool, bool, str]


def _runs(row: dict[int, Any], columns: int) -> Iterator[_Run]:
    """``(start, cells, fg, bg, bold, underline, text)`` for each run of cells of one
    style in ``row`` (pyte ``Char``s by column), reverse video applied."""
    start, style = 0, None
    text: list[str] = []
    for column in range(columns + 1):
        if column < columns:
            char = row[column]
            fg, bg = _colour(char.fg, DEFAULT_FG), _colour(char.bg, DEFAULT_BG)
            if char.reverse:
                fg, bg = bg, fg
            cell_style = (fg, bg, bool(char.bold), bool(char.underscore))
        else:
            cell_style = None
        if cell_style != style:
            if style is not None:
                yield (start, column - start, *style, "".join(text))
            start, style, text = column, cell_style, []
        if column < columns:
            text.append(row[column].data)  # "" for the right half of a wide character


def screen_svg(screen: pyte.Screen) -> bytes:
    """The SVG (UTF-8) of ``screen``'s visible cells and its cursor (unless hidden)."""
    from pyte.modes import DECTCEM

    columns, lines = screen.columns, screen.lines
    width_units, height_units = columns * CELL_WIDTH, lines * CELL_HEIGHT
    parts = _open(width_units, height_units, DEFAULT_BG)
    texts: list[str] = []
    for y in range(lines):
        top = y * CELL_HEIGHT
        for start, cells, fg, bg, bold, underline, text in _runs(screen.buffer[y], columns):
            x = start * CELL_WIDTH
            if bg != DEFAULT_BG:
                parts.append(
                    f'<rect x="{x}" y="{top}" width="{cells * CELL_WIDTH}" '
                    f'height="{CELL_HEIGHT}" fill="{bg}"/>'
                )
            shown = text.rstrip()
            if not shown:
                continue
            used = cells - (len(text) - len(shown))  # cells of the trailing blanks dropped
            extra = (' font-weight="bold"' if bold else "") + (
                ' text-decoration="underline"' if underline else ""
            )
            texts.append(
                f'<text x="{x}" y="{top + CELL_HEIGHT - 3}" fill="{fg}" '
                f'textLength="{used * CELL_WIDTH}" lengthAdjust="spacingAndGlyphs"{extra}>'
                f"{escape_text(shown)}</text>"
            )
    cursor = screen.cursor
    if DECTCEM in screen.mode and 0 <= cursor.x < columns and 0 <= cursor.y < lines:
        parts.append(
            f'<rect x="{cursor.x * CELL_WIDTH}" y="{cursor.y * CELL_HEIGHT}" '
            f'width="{CELL_WIDTH}" height="{CELL_HEIGHT}" fill="{CURSOR}" fill-opacity="0.6"/>'
        )
    parts.append(
        f'<g font-family="{FONT}" font-size="{FONT_SIZE}" xml:space="preserve" '
        'style="white-space:pre">'
    )
    parts.extend(texts)
    parts.append("</g></svg>")
    return "".join(parts).encode()


def placeholder_svg(lines: Iterable[str], *, width: int = MAX_WIDTH, height: int = 300) -> bytes:
    """An SVG (UTF-8) of ``width`` × ``height`` pixels with ``lines`` centred on a grey
    ground: what a thumbnail shows when there is no screen to draw."""
    parts = _open(width, height, "#2b2f36")
    shown = list(lines)
    first = height / 2 - (len(shown) - 1) * 12
    for index, line in enumerate(shown):
        size = 20 if index == 0 else 14
        parts.append(
            f'<text x="{width / 2:g}" y="{first + index * 26:g}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="{size}" fill="#c8ccd2">'
            f"{escape_text(line)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts).encode()
