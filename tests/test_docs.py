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


def test_the_sdk_reference_is_generated_from_the_current_docstrings():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_sdk_reference", DOCS / "gen_sdk_reference.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (DOCS / "sdk-reference.md").read_text() == gen.render(), "run python docs/gen_sdk_reference.py"
