"""Decoding the server's Arrow answers in the SDK: whole or streamed, dtype hints, damaged bodies."""

from __future__ import annotations

import io

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("httpx")

from chronotope.client import wire  # noqa: E402
from chronotope.errors import CorruptDataError  # noqa: E402


def _stream(table, chunk_rows: int | None = None) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=chunk_rows)
    return sink.getvalue()


def _ids_table(width_hint: str | None) -> "pa.Table":
    field = pa.field("object_id", pa.string(), metadata=None if width_hint is None else {"chronotope.dtype": width_hint})
    t = pa.array((np.arange(10) * 10**9).astype("datetime64[ns]").view(np.int64), pa.timestamp("ns", tz="UTC"))
    return pa.table([pa.array(["a", "bb", "ccc"] * 3 + ["d"]), t, pa.array(np.linspace(0, 1, 10))],
                    schema=pa.schema([field, pa.field("t", t.type), pa.field("x", pa.float64())]))


@pytest.mark.parametrize("limit", [1, 64, wire.WHOLE_BODY_LIMIT])
def test_chunks_decode_alike_whole_or_streamed(limit):
    table = pa.table({"object_id": np.arange(200_000, dtype=np.int64), "x": np.random.default_rng(1).random(200_000)})
    body = _stream(table, chunk_rows=65_536)
    pieces = [body[i:i + 1000] for i in range(0, len(body), 1000)]
    consumed = []

    def chunks():
        for piece in pieces:
            consumed.append(piece)
            yield piece
    result = wire.decode_arrow_chunks(chunks(), whole_limit=limit)
    assert len(consumed) == len(pieces)  # read to the end either way (the pooled connection needs it)
    assert np.array_equal(result["object_id"], table["object_id"].to_numpy())
    assert result["x"].dtype == np.float64 and np.array_equal(result["x"], table["x"].to_numpy())


def test_string_columns_take_the_width_the_server_names():
    plain = wire.decode_arrow(_stream(_ids_table(None)))
    assert plain["object_id"].dtype == np.dtype("<U3") and plain["t"].dtype == np.dtype("datetime64[ns]")
    hinted = wire.decode_arrow(_stream(_ids_table("<U12")))
    assert hinted["object_id"].dtype == np.dtype("<U12") and list(hinted["object_id"]) == list(plain["object_id"])


@pytest.mark.parametrize("hint", ["<U2", "<U99999", "<f8", "not a dtype", "|S12"])
def test_dtype_hints_that_would_cut_or_bloat_are_ignored(hint):
    got = wire.decode_arrow(_stream(_ids_table(hint)))
    assert got["object_id"].dtype == np.dtype("<U3") and got["object_id"][2] == "ccc"


@pytest.mark.parametrize("cut", [0, 7, 200, -9])
def test_a_damaged_answer_is_corrupt_data(cut):
    body = _stream(_ids_table(None))
    damaged = b"garbage!" * 8 if cut == 0 else body[:cut]
    with pytest.raises(CorruptDataError):
        wire.decode_arrow(damaged)
    with pytest.raises(CorruptDataError):
        wire.decode_arrow_chunks(iter([damaged[:3], damaged[3:]]), whole_limit=2)
