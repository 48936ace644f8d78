"""Run the examples in the documentation pages."""

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["queries.md"]


@pytest.mark.parametrize("page", PAGES)
def test_documentation_examples(page):
    result = doctest.testfile(str(DOCS / page), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{page} has no examples"
    assert result.failed == 0
