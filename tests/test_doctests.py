"""Run the docstring examples of the installed package's public modules."""

import doctest
import importlib

import pytest

MODULES = ["chronotope.codec", "chronotope.errors", "chronotope.loaders", "chronotope.datasets", "chronotope.spatial",
           "chronotope.cache", "chronotope_api.settings", "chronotope_api.params", "chronotope_api.outputs",
           "chronotope_api.engine", "chronotope.batch", "chronotope_api.instants",
           "chronotope.client.breaker", "chronotope.client.problems", "chronotope.client.transport",
           "chronotope.client.wire"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
