"""Golden blocks: what earlier builds wrote must decode forever, and encode the same.

tests/golden/ holds blocks written by tests/golden/make_golden.py and the
arrays they were made from. Two promises are checked:

- every golden block decodes to its input, bit for bit, on every SIMD path
  (a reader that stops understanding old blocks fails here);
- encoding the inputs today gives exactly the golden bytes (an accidental
  format change fails here: the fix is either to undo it or to bump the format
  version deliberately and regenerate the golden files).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from chronotope import codec

GOLDEN = Path(__file__).resolve().parent / "golden"


def _load_generator():
    spec = importlib.util.spec_from_file_location("chronotope_make_golden", GOLDEN / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()
with np.load(GOLDEN / "inputs.npz") as _npz:
    INPUTS = {name: _npz[name] for name in _npz.files}
CASES = [(name, mode) for name in sorted(INPUTS) for mode in GEN.MODES]
REGENERATE = (
    "If the format change is deliberate, bump CT_BLOCK_VERSION in csrc/ct_block.h (keeping a decoder "
    "for the old version) and regenerate with `python tests/golden/make_golden.py`; otherwise the "
    "change is a bug: blocks already on disk would be read differently."
)


def _golden(name, mode) -> bytes:
    return (GOLDEN / f"{name}.{mode}.ctb").read_bytes()


def test_golden_set_is_complete():
    expected = {f"{name}.{mode}.ctb" for name, mode in CASES}
    present = {p.name for p in GOLDEN.glob("*.ctb")}
    assert present == expected, f"missing {sorted(expected - present)}, unexpected {sorted(present - expected)}"
    assert set(INPUTS) == set(GEN.make_inputs()), "inputs.npz and make_golden.py list different inputs"
    # together the golden blocks exercise every codec
    used = {codec.info(_golden(name, mode)).codec for name, mode in CASES}
    assert used == set(codec.CODECS) - {"auto"}, f"codecs without a golden block: {set(codec.CODECS) - {'auto'} - used}"


def test_golden_files_are_small():
    for name, mode in CASES:
        assert len(_golden(name, mode)) < 8192, f"{name}.{mode}.ctb is too large for a golden file"


@pytest.mark.parametrize("name, mode", CASES)
def test_golden_block_decodes(name, mode, simd, assert_identical):
    block = _golden(name, mode)
    expected = INPUTS[name]
    assert block[:4] == b"CTBK"
    bi = codec.info(block)
    assert bi.mode == mode and bi.encoded_bytes == len(block)
    got = codec.decode(block)
    assert_identical(expected, got)
    if name == "payload":
        assert codec.decode_bytes(block) == expected.tobytes()


@pytest.mark.parametrize("name, mode", CASES)
def test_golden_block_reencodes_identically(name, mode, simd):
    golden = _golden(name, mode)
    block = GEN.encode_golden(name, INPUTS[name], mode)
    if block != golden:
        diff = next((i for i, (a, b) in enumerate(zip(block, golden)) if a != b), min(len(block), len(golden)))
        pytest.fail(
            f"encoding tests/golden inputs[{name!r}] in {mode} mode on the {simd} path no longer gives "
            f"tests/golden/{name}.{mode}.ctb: {len(block)} bytes instead of {len(golden)}, first difference at "
            f"byte {diff} (codec now {codec.info(block).codec!r}, golden {codec.info(golden).codec!r}). "
            + REGENERATE
        )


def test_generator_inputs_are_deterministic():
    """make_golden.py must regenerate the same inputs (so a regeneration changes only the blocks)."""
    again = GEN.make_inputs()
    for name, array in INPUTS.items():
        assert again[name].dtype == array.dtype and again[name].tobytes() == array.tobytes(), name
