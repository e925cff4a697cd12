"""A terminal's screen drawn as SVG from pyte, and the placeholder: colours, cursor
moves, clear screen, and escaping of whatever the workspace printed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pyte

from moorage.gateway.thumbnail_svg import (
    CELL_HEIGHT,
    CELL_WIDTH,
    DEFAULT_BG,
    MAX_WIDTH,
    escape_text,
    placeholder_svg,
    screen_svg,
)

SVG_NS = "{http://www.w3.org/2000/svg}"


def _screen(output: bytes, cols: int = 80, rows: int = 24) -> pyte.Screen:
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(output)
    return screen


def _texts(svg: bytes) -> list[tuple[float, float, str, str]]:
    """``(x, y, fill, text)`` of every text element, parsed as XML (so the SVG must be
    well-formed for the test to pass)."""
    root = ElementTree.fromstring(svg)
    return [
        (float(e.get("x", 0)), float(e.get("y", 0)), e.get("fill", ""), e.text or "")
        for e in root.iter(f"{SVG_NS}text")
    ]


def _rects(svg: bytes) -> list[dict[str, str]]:
    return [dict(e.attrib) for e in ElementTree.fromstring(svg).iter(f"{SVG_NS}rect")]


def test_plain_lines_are_drawn_on_their_rows():
    svg = screen_svg(_screen(b"hello\r\nworld"))
    texts = _texts(svg)
    assert [t[3] for t in texts] == ["hello", "world"]
    assert texts[0][1] < texts[1][1]  # one row below the other
    assert texts[1][1] - texts[0][1] == CELL_HEIGHT


def test_colours_are_kept_and_reverse_video_swaps_them():
    svg = screen_svg(_screen(b"\x1b[31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[0m \x1b[7minv\x1b[0m"))
    by_text = {t[3]: t for t in _texts(svg)}
    assert by_text["red"][2] == "#cd0000"
    assert by_text["rgb"][2] == "#010203"
    assert by_text["inv"][2] == DEFAULT_BG  # the default background becomes the text's colour
    inverted = [r for r in _rects(svg) if r.get("x") == str(8 * CELL_WIDTH) and r.get("y") == "0"]
    assert inverted and inverted[0]["fill"] == "#d0d0d0"  # and the foreground its ground


def test_a_background_colour_is_a_rectangle_under_its_cells():
    svg = screen_svg(_screen(b"ab\x1b[44mXYZ\x1b[0m"))
    blue = [r for r in _rects(svg) if r["fill"] == "#0000ee"]
    assert blue == [
        {
            "x": str(2 * CELL_WIDTH),
            "y": "0",
            "width": str(3 * CELL_WIDTH),
            "height": str(CELL_HEIGHT),
            "fill": "#0000ee",
        }
    ]


def test_cursor_moves_place_text_where_the_terminal_would():
    # Row 5, column 10 (1-based), then back to the line start and overwrite; then
    # row 2, column 3 with another colour.
    svg = screen_svg(_screen(b"\x1b[5;10Hthere\rHi\x1b[2;3H\x1b[32mup"))
    texts = sorted(_texts(svg), key=lambda t: t[1])
    assert texts == [
        (2 * CELL_WIDTH, 1 * CELL_HEIGHT + CELL_HEIGHT - 3, "#00cd00", "up"),
        (0, 4 * CELL_HEIGHT + CELL_HEIGHT - 3, "#d0d0d0", "Hi       there"),
    ]


def test_clear_screen_leaves_only_what_follows_it():
    svg = screen_svg(_screen(b"old stuff\r\nmore old\x1b[2J\x1b[Hnew"))
    assert [t[3] for t in _texts(svg)] == ["new"]


def test_the_cursor_is_drawn_where_it_is_unless_hidden():
    shown = _rects(screen_svg(_screen(b"ab\r\ncd")))
    cursor = [r for r in shown if r.get("fill-opacity")]
    assert cursor and (cursor[0]["x"], cursor[0]["y"]) == (str(2 * CELL_WIDTH), str(CELL_HEIGHT))
    hidden = _rects(screen_svg(_screen(b"ab\x1b[?25l")))
    assert not [r for r in hidden if r.get("fill-opacity")]


def test_markup_printed_by_the_workspace_is_escaped():
    evil = b"<script>alert(1)</script> & \"quotes\" 'single' <svg onload=x>"
    svg = screen_svg(_screen(evil))
    assert b"<script" not in svg and b"<svg onload" not in svg
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in svg
    texts = _texts(svg)  # well-formed XML, and the text reads back as it was printed
    assert texts[0][3] == evil.decode()
    assert len(ElementTree.fromstring(svg).findall(f"{SVG_NS}script")) == 0


def test_characters_xml_forbids_become_replacement_characters():
    assert escape_text("a\x00b\x07c\ud800d\ufffe") == "a\ufffdb\ufffdc\ufffdd\ufffd"
    assert escape_text("<&>\"'") == "&lt;&amp;&gt;&quot;&#39;"
    assert escape_text("tab\tand é 中") == "tab\tand é 中"


def test_the_image_is_at_most_max_width_wide_with_the_screens_proportions():
    root = ElementTree.fromstring(screen_svg(_screen(b"x", cols=200, rows=50)))
    assert root.get("width") == str(MAX_WIDTH)
    assert root.get("viewBox") == f"0 0 {200 * CELL_WIDTH} {50 * CELL_HEIGHT}"
    assert int(root.get("height", 0)) == round(50 * CELL_HEIGHT * MAX_WIDTH / (200 * CELL_WIDTH))
    small = ElementTree.fromstring(screen_svg(_screen(b"x", cols=20, rows=5)))
    assert small.get("width") == str(20 * CELL_WIDTH)  # never scaled up


def test_wide_characters_take_two_cells():
    texts = _texts(screen_svg(_screen("中文 ok".encode())))
    assert texts[0][3] == "中文 ok"
    svg = screen_svg(_screen("中文 ok".encode())).decode()
    assert re.search(r'textLength="(\d+)"', svg).group(1) == str(7 * CELL_WIDTH)  # type: ignore[union-attr]


def test_a_placeholder_shows_its_lines_escaped():
    svg = placeholder_svg(["terminal", "no terminal open <&>"])
    assert [t[3] for t in _texts(svg)] == ["terminal", "no terminal open <&>"]
    root = ElementTree.fromstring(svg)
    assert root.get("width") == str(MAX_WIDTH)
