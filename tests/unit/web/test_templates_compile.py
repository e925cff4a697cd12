"""Every page template compiles, so a syntax error (a block defined twice, an unclosed
tag) fails here rather than as a 500 on a page no unit test renders."""

from __future__ import annotations

import pytest

from moorage.web.pages import templates

NAMES = templates.env.list_templates(extensions=["html"])


def test_there_are_templates_to_check():
    assert "base.html" in NAMES and "containers.html" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_template_compiles(name):
    templates.env.get_template(name)
