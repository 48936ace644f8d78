"""Bulk ingest over HTTP (POST /collections/{id}/samples) against a real `chronotope serve` process.

What a server stored is read back by stopping it (SIGTERM flushes and closes the
store) and opening the store with ``chronotope.open``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chronotope as ct
from chronotope._checksum import crc32c
from chronotope.batch import encode_batch

pytest.importorskip("fastapi")
pa = pytest.importorskip("pyarrow")
import pyarrow.csv  # noqa: E402
import pyarrow.ipc  # noqa: E402

from chronotope_api.instants import parse_instants  # noqa: E402
from chronotope_api.params import instant  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server, assert_problem, cli, serving  # noqa: E402

BATCH, ARROW, CSV, NDJSON, JSON = ("application/vnd.chronotope.batch", "application/vnd.apache.arrow.stream",
                                   "text/csv", "application/x-ndjson", "application/json")
T0 = 1_606_798_185_000_000_000  # 2020-12-01T04:49:45Z
N = 12


def expected(string_ids: bool = False) -> dict[str, np.ndarray]:
    """The rows every format below carries: two features, times to the millisecond, sog missing in row 5."""
    ids = np.array([367000150, 366999000])[np.arange(N) % 2]
    sog = np.round(np.linspace(0.5, 12.5, N), 1).astype(np.float32)
    sog[5] = np.nan
    return {"object_id": np.array(["Ever Given", "Ævar 😀"])[np.arange(N) % 2] if string_ids else ids,
            "t": T0 + np.arange(N, dtype=np.int64) * 1_500_000_000 + (np.arange(N) % 3) * 7_000_000,
            "x": np.round(-74.01 - np.arange(N) * 0.001, 5), "y": np.round(40.6 + np.arange(N) * 0.0005, 5),
            "sog": sog}


def rfc3339(t: int, k: int) -> str:
    """``t`` as RFC 3339, in UTC or with an offset, by row."""
    offset = [0, 60, -330][k % 3]  # minutes east of UTC
    local = np.datetime64(t + offset * 60 * 10**9, "ns").astype("datetime64[ms]")
    zone = "Z" if offset == 0 else f"{'+' if offset > 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return str(local) + zone


def records(cols: dict) -> list[dict]:
    """JSON records: t as RFC 3339 (odd rows as epoch nanoseconds), the NaN sog left out."""
    out = []
    for k in range(N):
        rec = {"object_id": cols["object_id"][k].item(), "x": float(cols["x"][k]), "y": float(cols["y"][k]),
               "t": rfc3339(int(cols["t"][k]), k) if k % 2 == 0 else int(cols["t"][k])}
        if not np.isnan(cols["sog"][k]):
            rec["sog"] = float(cols["sog"][k])
        out.append(rec)
    return out


def body(fmt: str, cols: dict) -> tuple[bytes, str]:
    """``cols`` in one of the formats."""
    if fmt == "json":
        return json.dumps(records(cols)).encode(), JSON
    if fmt == "columns":
        sog = [None if np.isnan(v) else float(v) for v in cols["sog"]]
        return json.dumps({"object_id": cols["object_id"].tolist(), "t": cols["t"].tolist(),
                           "x": cols["x"].tolist(), "y": cols["y"].tolist(), "sog": sog}).encode(), JSON
    if fmt == "ndjson":
        return ("\r\n".join(json.dumps(r) for r in records(cols)) + "\n\n").encode(), NDJSON
    if fmt == "csv":
        table = pa.table({"object_id": cols["object_id"],
                          "t": [rfc3339(int(t), k) if k % 2 else str(t) for k, t in enumerate(cols["t"])],
                          "x": cols["x"], "y": cols["y"], "sog": pa.array(cols["sog"], from_pandas=True)})
        buf = io.BytesIO()
        pyarrow.csv.write_csv(table, buf)
        return buf.getvalue(), CSV
    if fmt == "arrow":
        table = pa.table({"object_id": cols["object_id"],
                          "t": pa.array(cols["t"] // 10**6, pa.timestamp("ms", tz="UTC")),
                          "x": cols["x"], "y": cols["y"], "sog": pa.array(cols["sog"], from_pandas=True)})
        buf = io.BytesIO()
        with pyarrow.ipc.new_stream(buf, table.schema) as writer:
            writer.write_table(table)
        return buf.getvalue(), ARROW
    assert fmt == "batch"
    return encode_batch(cols), BATCH


def scan(db, name: str) -> dict:
    return db.collection(name).scan(columns=["object_id", "t", "x", "y", "sog"]).to_dict()


def same_rows(got: dict, want: dict) -> None:
    """The same rows, in any order: compared after sorting both by (object_id, t)."""
    t = got["t"].view(np.int64) if got["t"].dtype.kind == "M" else got["t"]
    g, w = np.lexsort((t, got["object_id"])), np.lexsort((want["t"], want["object_id"]))
    assert got["object_id"][g].tolist() == want["object_id"][w].tolist()
    assert t[g].tolist() == want["t"][w].tolist()
    for name in ("x", "y", "sog"):
        np.testing.assert_array_equal(got[name][g], want[name][w].astype(got[name].dtype))


def make_store(path, names=("ais",), **kwargs) -> str:
    with ct.open(path) as db:
        for name in names:
            db.create_collection(name, properties={"sog": "float32"}, **kwargs)
    return str(path)


def restart(old: Server, store: str) -> Server:
    """A new server on the same store, logged in with the first one's demo password."""
    new = Server("--store", store, "--demo").start()
    new.admin_password = old.admin_password
    return new


def samples_url(name: str) -> str:
    return f"/collections/{name}/samples"


# ---- every format stores the same rows ----

FORMATS = ["json", "columns", "ndjson", "csv", "arrow", "batch"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Post every format (integer ids, and string ids where a format carries them) to its own collection,
    stop the server and read the store."""
    store = make_store(tmp_path_factory.mktemp("formats") / "store",
                       [f"{fmt}_{kind}" for fmt in FORMATS for kind in ("int", "str", "text")])
    server = Server("--store", store, "--demo").start()
    answers = {}
    try:
        with server.client() as client:
            for fmt in FORMATS:
                for kind in ("int", "str"):
                    content, media = body(fmt, expected(kind == "str"))
                    resp = client.post(samples_url(f"{fmt}_{kind}"), content=content,
                                       headers={"Content-Type": media})
                    answers[fmt, kind] = resp.status_code, resp.json()
            for fmt, (content, media) in TEXT_IDS.items():  # ids that look like numbers or dates stay text
                resp = client.post(samples_url(f"{fmt}_text"), content=content, headers={"Content-Type": media})
                answers[fmt, "text"] = resp.status_code, resp.json()
    finally:
        assert server.stop() == 0
    with ct.open(store) as db:
        yield answers, {key: scan(db, f"{key[0]}_{key[1]}") for key in answers}


TEXT_IDS = {"csv": ("object_id,t,x,y\n0042,0,1,2\n2020-12-01,0,1,2\n7,0,1,2\n", CSV),
            "ndjson": ('{"object_id": "2020-12-01", "t": 0, "x": 1, "y": 2}\n'
                       '{"object_id": "0042", "t": "2020-12-01T00:00:00Z", "x": 1, "y": 2}\n', NDJSON)}


@pytest.mark.parametrize("fmt", sorted(TEXT_IDS))
def test_ids_that_look_like_numbers_or_dates_stay_text(stored, fmt):
    answers, rows = stored
    assert answers[fmt, "text"][0] == 200
    want = {"csv": ["0042", "2020-12-01", "7"], "ndjson": ["2020-12-01", "0042"]}[fmt]
    assert rows[fmt, "text"]["object_id"].tolist() == want


@pytest.mark.parametrize("kind", ["int", "str"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_stores_the_rows_it_carries(stored, fmt, kind):
    answers, rows = stored
    assert answers[fmt, kind] == (200, {"appended": N})
    same_rows(rows[fmt, kind], expected(kind == "str"))


# ---- a running server for the errors ----

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    store = make_store(tmp_path_factory.mktemp("ingest") / "store", ["ais", "harbour"])
    with serving(store, "--demo") as server:
        yield server


@pytest.fixture(scope="module")
def admin(srv):
    with srv.client() as client:
        yield client


def post(client: httpx.Client, content, media: str | None, collection: str = "ais", **headers) -> httpx.Response:
    if not isinstance(content, (bytes, str)):
        content = json.dumps(content)
    return client.post(samples_url(collection), content=content,
                       headers={**({"Content-Type": media} if media else {}), **headers})


GOOD = {"object_id": 7, "t": "2020-12-01T04:49:45Z", "x": -74.0, "y": 40.6}


@pytest.mark.parametrize("content, media, detail", [
    ('[{"object_id": 1, "t": 0, "x": 1,', JSON, "not JSON: Expecting"),
    ('{"object_id": 1}\n{"object_id": 2, "t": ', NDJSON, "NDJSON line 2 is not JSON"),
    ('{"object_id": 1, "t": 0, "x": 1,\n"y": 2}', NDJSON, "NDJSON line 1 is not JSON"),
    (b"\xff\xfe[]", JSON, "not UTF-8"),
    (b"not arrow at all", ARROW, "not an Arrow IPC stream"),
    (b"\x93CTB\r\n\x1a\n" + bytes(40), BATCH, "not a valid chronotope batch"),
    (encode_batch({"t": np.arange(3)})[:-1] + b"\0", BATCH, "checksum mismatch"),
    ('object_id,t,x,y\n1,2,"3\n', CSV, "not CSV"),
])
def test_bodies_that_cannot_be_read_are_400(admin, content, media, detail):
    assert_problem(post(admin, content, media), 400, detail)


@pytest.mark.parametrize("content, detail", [
    ([GOOD, {**GOOD, "x": "west"}], "column 'x': row 1 holds \"west\", not a number"),
    ([GOOD, GOOD, {**GOOD, "x": float("nan")}], "column 'x': nan (not a finite number) at row 2"),
    ([GOOD, {**GOOD, "y": 91.0}], "column 'y': 91.0 is outside [-90, 90] (EPSG:4326) at row 1"),
    ([GOOD, {**GOOD, "t": "2020-12-01T04:49:45"}], "column 't': row 1: '2020-12-01T04:49:45' is not an RFC 3339"),
    ([GOOD, {**GOOD, "t": "2020-02-30T00:00:00Z"}], "row 1: '2020-02-30T00:00:00Z' is not a valid date-time"),
    ([GOOD, {k: v for k, v in GOOD.items() if k != "y"}], "column 'y': row 1 holds null, not a number"),
    ([{k: v for k, v in GOOD.items() if k != "t"}], "missing column(s) ['t']"),
    ([GOOD, [1, 2]], "row 1 is not a JSON object but [1, 2]"),
    ([{**GOOD, "draught": 3.5}], "unknown column(s) ['draught']"),
    ([GOOD, {**GOOD, "sog": "fast"}], "column 'sog': row 1 holds \"fast\", not a number"),
    ([GOOD, {**GOOD, "object_id": 1.5}], "column 'object_id' must hold integers or strings"),
    ([GOOD, {**GOOD, "x": [1, 2]}], "column 'x': row 1 holds [1, 2], not a number"),
    ({"object_id": [1], "t": [0], "x": 5, "y": [1]}, "column 'x' must be an array of values"),
    ({"object_id": [1, 2], "t": [0, 1], "x": [1.0], "y": [1.0, 2.0]}, "column 'x' must be 1-D with 2 rows"),
    ("3", "an array of sample records or an object of columns, got a number"),
])
def test_wrong_values_are_422_naming_the_column_and_row(admin, content, detail):
    assert_problem(post(admin, content, JSON), 422, detail)


def test_wrong_values_in_the_other_formats_are_422_too(admin):
    assert_problem(post(admin, "object_id,t,x,y\n1,0,1.5,2\n2,5,east,2\n", CSV), 422,
                   "column 'x': row 1 holds 'east', not a number")
    assert_problem(post(admin, "object_id,t,y\n1,0,2\n", CSV), 422, "missing column(s) ['x']")
    assert_problem(post(admin, "object_id,t,x,y\n1,0,1.5,2\n2,,1.5,2\n", CSV), 422, "row 1")
    lines = "\n".join(json.dumps(r) for r in [GOOD, GOOD, {**GOOD, "x": "west"}])
    assert_problem(post(admin, lines, NDJSON), 422, "column 'x': line 3 holds \"west\"")
    table = pa.table({"object_id": [1, 2], "t": pa.array([0, None], pa.int64()), "x": [1.0, 2.0], "y": [1.0, 2.0]})
    buf = io.BytesIO()
    with pyarrow.ipc.new_stream(buf, table.schema) as writer:
        writer.write_table(table)
    assert_problem(post(admin, buf.getvalue(), ARROW), 422, "column 't': no value at row 1")
    cols = {"object_id": np.array([1, 2]), "t": np.array([0, 1]), "x": np.array([1.0, np.inf]), "y": np.zeros(2)}
    assert_problem(post(admin, encode_batch(cols), BATCH), 422, "column 'x': inf (not a finite number) at row 1")


def test_a_batch_that_would_decode_beyond_the_limit_is_413(admin):
    message = bytearray(encode_batch({"t": np.arange(10), "x": np.zeros(10)}))
    struct.pack_into("<Q", message, 16, 2**40)  # rows, with the checksum made to match
    message[-4:] = struct.pack("<I", crc32c(bytes(message[:-4])))
    assert_problem(post(admin, bytes(message), BATCH), 413, "send smaller batches")


def arrow_stream(table) -> bytes:
    buf = io.BytesIO()
    with pyarrow.ipc.new_stream(buf, table.schema) as writer:
        writer.write_table(table)
    return buf.getvalue()


def test_hostile_bodies_get_4xx_and_the_server_lives_on(admin):
    bad_utf8 = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 1, 3], np.int32)),
                                                       pa.py_buffer(b"a\xff\xfe")])
    bad_index = pa.DictionaryArray.from_arrays(pa.array([0, 7], pa.int32()), pa.array(["a", "b"]), safe=False)
    ones = pa.array([1.0, 1.0])
    cases = [
        ("null", NDJSON, 422), (" null\n", NDJSON, 422), ('null\n{"object_id": 1}', NDJSON, 422),  # pyarrow 26's
        ('{"object_id": 1, "t": 0, "x": 1, "y": 2}\nnull', NDJSON, 422),  # JSON reader crashes on these
        (b"object_id,\xff\xfe,x,y\n1,0,1,2\n", CSV, 400),
        (arrow_stream(pa.table({"object_id": bad_utf8, "t": [0, 1], "x": ones, "y": ones})), ARROW, 400),
        (arrow_stream(pa.table({"object_id": bad_index, "t": [0, 1], "x": ones, "y": ones})), ARROW, 400),
    ]
    for content, media, status in cases:
        assert_problem(post(admin, content, media), status)
    rng = np.random.default_rng(5)
    valid = {ARROW: arrow_stream(pa.table({"object_id": ["a", "b"], "t": pa.array([1, 2], pa.timestamp("ms", "UTC")),
                                           "x": ones, "y": ones})),
             CSV: b"object_id,t,x,y\n1,2020-12-01T00:00:00Z,1.5,2\n2,5,3,4\n",
             NDJSON: b'{"object_id": 1, "t": "2020-12-01T00:00:00Z", "x": 1.5, "y": 2}\n{"object_id": 2, "t": 5}\n',
             BATCH: encode_batch({"object_id": np.array(["a", "b"]), "t": np.array([1, 2]), "x": np.ones(2)})}
    for media, good in valid.items():
        for _ in range(60):  # random damage: never a 5xx
            damaged = bytearray(good)
            for pos in rng.integers(0, len(damaged), rng.integers(1, 5)):
                damaged[pos] = rng.integers(0, 256)
            resp = post(admin, bytes(damaged[: rng.integers(1, len(damaged) + 1)]), media)
            assert resp.status_code in (200, 400, 413, 422), (media, bytes(damaged), resp.text)
    assert post(admin, [GOOD], JSON).json() == {"appended": 1}


@pytest.mark.parametrize("media", [None, "application/xml", "text/plain", "application/json; charset=latin-1"])
def test_other_content_types_are_415(admin, media):
    assert_problem(post(admin, [GOOD], media), 415)


def test_content_type_parameters_and_aliases_are_understood(admin):
    assert post(admin, [GOOD], "Application/JSON; charset=UTF-8").json() == {"appended": 1}
    assert post(admin, json.dumps(GOOD), "application/ndjson").json() == {"appended": 1}


def test_an_empty_body_of_records_appends_nothing(admin):
    for content, media in (([], JSON), ("", NDJSON), ("\n\n", NDJSON), ("object_id,t,x,y\n", CSV)):
        resp = post(admin, content, media)
        assert resp.status_code == 200 and resp.json() == {"appended": 0}, (media, resp.text)


def test_unknown_collections_are_404_and_credentials_are_checked(srv, admin):
    assert_problem(post(admin, [GOOD], JSON, collection="nowhere"), 404)
    assert_problem(httpx.post(srv.url + samples_url("ais"), json=[GOOD]), 401)
    added = cli("user", "add", "viewer", "--role", "reader", "--store", srv.store, stdin="viewer-password\n")
    assert added.returncode == 0, added.stderr
    with srv.client(srv.token("viewer", "viewer-password")) as viewer:
        assert_problem(post(viewer, [GOOD], JSON), 403, "needs the writer role")


def test_a_writer_limited_to_a_region_writes_only_inside_it(srv):
    added = cli("user", "add", "pilot", "--role", "writer", "--collection", "harbour", "--bbox=-74.1,40.5,-73.9,40.7",
                "--time", "2020-12-01T00:00:00Z/2020-12-02T00:00:00Z", "--store", srv.store,
                stdin="pilot-password\n")
    assert added.returncode == 0, added.stderr
    inside = {**GOOD, "object_id": 1}
    with srv.client(srv.token("pilot", "pilot-password")) as pilot:
        assert_problem(post(pilot, [inside, {**inside, "x": -73.5}], JSON, "harbour"), 403, "row 1 lies outside")
        assert_problem(post(pilot, [inside, {**inside, "t": "2020-12-03T00:00:00Z"}], JSON, "harbour"), 403,
                       "row 1 lies outside")
        # a bad value is named before the grant is checked
        assert_problem(post(pilot, [inside, {**inside, "x": float("nan")}], JSON, "harbour"), 422, "at row 1")
        assert post(pilot, [inside, {**inside, "t": "2020-12-01T05:00:00Z"}], JSON, "harbour").json() == {"appended": 2}
        assert_problem(post(pilot, [inside], JSON, "ais"), 403)


@pytest.mark.parametrize("key", ["", "é", "k" * 256, 'a"b', '"'])
def test_bad_idempotency_keys_are_400(admin, key):
    resp = admin.post(samples_url("ais"), content=json.dumps([GOOD]).encode(),
                      headers={"Content-Type": JSON, "Idempotency-Key": key.encode("utf-8")})
    assert_problem(resp, 400, "Idempotency-Key")


def test_a_quoted_key_is_the_same_key(admin):
    first = post(admin, [{**GOOD, "object_id": 8}], JSON, **{"Idempotency-Key": '"quoted-1"'})
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = post(admin, [{**GOOD, "object_id": 8}], JSON, **{"Idempotency-Key": "quoted-1"})
    assert again.json() == {"appended": 1} and again.headers["Idempotent-Replayed"] == "true"


def test_the_openapi_document_describes_the_route(srv):
    api = httpx.get(srv.url + "/api").json()
    op = api["paths"]["/collections/{collectionId}/samples"]["post"]
    assert set(op["requestBody"]["content"]) == {JSON, NDJSON, CSV, ARROW, BATCH}
    assert set(op["requestBody"]["content"][JSON]["examples"]) == {"records", "columns"}
    assert {"200", "400", "401", "403", "404", "413", "415", "422"} <= set(op["responses"])
    assert "application/problem+json" in op["responses"]["422"]["content"]
    assert "Idempotent-Replayed" in op["responses"]["200"]["headers"]
    key = next(p for p in op["parameters"] if p["name"] == "Idempotency-Key")
    assert key["in"] == "header" and key["description"] and key["schema"]["type"] == "string"


# ---- idempotency across retries, restarts and a crash ----

def test_a_retried_batch_is_stored_once_across_restarts_and_a_crash(tmp_path):
    store = make_store(tmp_path / "store")
    first = expected()
    newer = {**first, "x": first["x"] + 0.5}
    bad = {**expected(), "object_id": np.full(N, 999)}
    bad["y"][-1] = 95.0

    def retry(server: Server, key: str, cols: dict, fmt: str = "batch") -> httpx.Response:
        content, media = body(fmt, cols)
        with server.client() as client:
            return client.post(samples_url("ais"), content=content, headers={"Content-Type": media,
                                                                             "Idempotency-Key": key})

    server = Server("--store", store, "--demo").start()
    try:
        fresh = retry(server, "batch-1", first)
        assert fresh.status_code == 200 and fresh.json() == {"appended": N}
        assert "Idempotent-Replayed" not in fresh.headers
        again = retry(server, "batch-1", first)
        assert again.json() == {"appended": N} and again.headers["Idempotent-Replayed"] == "true"
        assert retry(server, "batch-1", first, "csv").headers["Idempotent-Replayed"] == "true"  # same rows
        assert_problem(retry(server, "batch-1", newer), 422, "'batch-1' was used for an append of other rows")
        assert_problem(retry(server, "bad", bad), 422, "at row 11")  # all or nothing: none of it stored
        with server.client() as client:  # the same (object, t) rewritten without a key
            content, media = body("batch", newer)
            assert client.post(samples_url("ais"), content=content, headers={"Content-Type": media}).status_code == 200
    finally:
        assert server.stop() == 0

    server = restart(server, store)
    try:
        after = retry(server, "batch-1", first)
        assert after.json() == {"appended": N} and after.headers["Idempotent-Replayed"] == "true"
        # a failed key is free (rows at other times, so that any row of the failed request would still show)
        assert retry(server, "bad", {**bad, "y": np.zeros(N), "t": bad["t"] + 1}).status_code == 200
        assert retry(server, "batch-2", {**first, "t": first["t"] + 10**12}).json() == {"appended": N}
    finally:
        server.proc.kill()  # a crash: nothing flushed, the keys and rows only in the log
        server.proc.wait(timeout=30)
        server.proc.stderr.close()

    server = restart(server, store)
    try:
        crashed = retry(server, "batch-2", {**first, "t": first["t"] + 10**12})
        assert crashed.json() == {"appended": N} and crashed.headers["Idempotent-Replayed"] == "true"
    finally:
        assert server.stop() == 0

    with ct.open(store) as db:
        rows = scan(db, "ais")
    mine = rows["object_id"] != 999
    assert (rows["object_id"] == 999).sum() == N and set(rows["y"][~mine].tolist()) == {0.0}
    ours = {k: v[mine] for k, v in rows.items()}
    later = ours["t"].view(np.int64) >= T0 + 10**12
    same_rows({k: v[~later] for k, v in ours.items()}, newer)  # batch-1 never stored over the newer values
    assert later.sum() == N


# ---- the vectorised RFC 3339 parser agrees with params.instant ----

@st.composite
def instants(draw):
    when = draw(st.integers(-(2**62), 2**62))
    text = str(np.datetime64(when, "ns"))
    date, clock = text.split("T")
    digits = draw(st.integers(1, 9))
    frac = ("." + clock[9:][:digits]) if draw(st.booleans()) else ""
    offset = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    zone = draw(st.sampled_from(["Z", "z", "offset"]))
    if zone == "offset":
        zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return f"{date}{draw(st.sampled_from('Tt '))}{clock[:8]}{frac}{zone}"


@settings(max_examples=300, deadline=None)
@given(st.lists(instants(), min_size=1, max_size=20))
def test_parse_instants_agrees_with_params_instant(texts):
    want = []
    for text in texts:
        try:
            want.append(instant(text))
        except Exception:
            want.append(None)
    if None in want or not all(-(2**63) < w < 2**63 for w in want):
        with pytest.raises(Exception):
            parse_instants(np.array(texts))
        return
    assert parse_instants(np.array(texts)).tolist() == want


def test_parse_instants_examples_run():
    import doctest

    import chronotope_api.instants

    result = doctest.testmod(chronotope_api.instants)
    assert result.attempted > 0 and result.failed == 0
