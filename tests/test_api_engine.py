"""The engine endpoints (query, explain, nearest, snapshot, track, aggregate, documents, stats, maintenance)
against a real `chronotope serve --demo`, each answer compared with the same call on the package over a store
of its own holding the same bundled AIS sample."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote
import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("fastapi")
pa = pytest.importorskip("pyarrow")

import chronotope as ct  # noqa: E402
from chronotope.datasets import load_sample  # noqa: E402
from chronotope_api.params import instant, iso_array  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server, assert_problem, cli, serving  # noqa: E402

BOX = (-74.05, 40.60, -74.00, 40.70)
BOX_TEXT = ",".join(map(str, BOX))
MORNING = "2020-12-03T00:00:00Z/2020-12-03T06:00:00Z"
MORNING_NS = (instant("2020-12-03T00:00:00Z"), instant("2020-12-03T06:00:00Z"))
NOON = "2020-12-03T12:00:00Z"
VESSEL = 367000150
TRIANGLE = {"type": "Polygon", "coordinates": [[[-74.05, 40.60], [-74.00, 40.60], [-74.02, 40.70], [-74.05, 40.60]]]}
ARROW, NDJSON = "application/vnd.apache.arrow.stream", "application/x-ndjson"
# the window of the limited grants below
WINDOW = "2020-12-03T00:00:00Z/2020-12-03T12:00:00Z"
WINDOW_NS = (instant("2020-12-03T00:00:00Z"), instant(NOON))


def cli_ok(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    done = cli(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done


def demo_store(path: str):
    """A store holding what `serve --demo` loads, for the package's answers."""
    d = load_sample("nyharbor_week")
    db = ct.open(path)
    db.create_collection("ais").append(d["object_id"], d["t"], d["x"], d["y"])
    db.flush()
    return db


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("engine") / "store")


@pytest.fixture(scope="module")
def srv(store):
    with serving(store, "--demo") as server:
        yield server


@pytest.fixture(scope="module")
def admin(srv):
    with srv.client() as client:
        yield client


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    db = demo_store(str(tmp_path_factory.mktemp("reference") / "store"))
    try:
        yield db.collection("ais")
    finally:
        db.close()


@pytest.fixture(scope="module")
def users(srv, store, tmp_path_factory):
    """Clients of principals with limited grants: a reader limited to BOX x WINDOW, one limited to TRIANGLE,
    a writer limited to BOX x WINDOW, a writer on ais and a reader on ais."""
    fence = tmp_path_factory.mktemp("grants") / "fence.geojson"
    fence.write_text(json.dumps(TRIANGLE))
    grants = {
        "partner": ["--role", "reader", "--collection", "ais", f"--bbox={BOX_TEXT}", "--time", WINDOW],
        "fenced": ["--role", "reader", "--collection", "ais", "--polygon", str(fence)],
        "scribe": ["--role", "writer", "--collection", "ais", f"--bbox={BOX_TEXT}", "--time", WINDOW],
        "writer": ["--role", "writer", "--collection", "ais"],
        "reader": ["--role", "reader", "--collection", "ais"],
    }
    clients = {}
    for name, args in grants.items():
        cli_ok("user", "add", name, *args, "--store", store, stdin=f"{name}-password-123\n")
        clients[name] = srv.client(srv.token(name, f"{name}-password-123"))
    yield clients
    for client in clients.values():
        client.close()


# ---- decoding every format into {column: list}, times as int ns and NaN as None ----

def _nan_none(values: list) -> list:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


def package_columns(result, times: str = "ns") -> dict:
    """A package Result as the JSON answer has it."""
    out = {}
    for name, col in result.to_dict().items():
        if col.dtype.kind == "M":
            ns = col.astype("datetime64[ns]").view(np.int64)
            out[name] = ns.tolist() if times == "ns" else iso_array(ns)
        else:
            out[name] = _nan_none(col.tolist())
    return out


def from_json(resp) -> dict:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) == {"numberReturned", "columns"}
    assert all(len(v) == body["numberReturned"] for v in body["columns"].values())
    return body["columns"]


def from_ndjson(resp, names: list[str]) -> dict:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == NDJSON
    records = [json.loads(line) for line in resp.text.splitlines()]
    assert all(list(r) == names for r in records)
    return {name: [r[name] for r in records] for name in names}


def from_csv(resp, like: dict) -> dict:
    """CSV fields read back with the types of the JSON answer ``like``."""
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(resp.text)))
    assert header == list(like)
    out = {}
    for i, name in enumerate(header):
        kinds = {type(v) for v in like[name] if v is not None}
        convert = int if kinds == {int} else str if kinds == {str} else float
        out[name] = [None if row[i] == "" else convert(row[i]) for row in rows]
    return out


def from_arrow(resp) -> tuple[dict, pa.Schema, int]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == ARROW
    reader = pa.ipc.open_stream(resp.content)
    batches = list(reader)
    table = pa.Table.from_batches(batches, schema=reader.schema)
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        out[name] = _nan_none(col.to_pylist())
    return out, reader.schema, len(batches)


# ---- query and explain ----

def test_query_by_box_and_interval_answers_what_the_package_does(admin, ref):
    got = from_json(admin.get("/collections/ais/query", params={"bbox": BOX_TEXT, "datetime": MORNING}))
    want = ref.query(bbox=BOX, time=MORNING_NS)
    assert len(want) == 1037
    assert got == package_columns(want, times="rfc3339")


def test_query_by_ids_and_columns(admin, ref):
    got = from_json(admin.get("/collections/ais/query", params={"ids": f"{VESSEL},367791540", "columns": "x,object_id",
                                                                "datetime": MORNING}))
    assert list(got) == ["x", "object_id"]
    assert got == package_columns(ref.query(ids=[VESSEL, 367791540], columns=["x", "object_id"], time=MORNING_NS))
    assert len(got["x"]) > 0


def test_query_by_polygon_in_the_body(admin, ref):
    want = package_columns(ref.query(polygon=TRIANGLE, time=MORNING_NS), times="rfc3339")
    assert 0 < len(want["t"]) < 1037
    got = from_json(admin.post("/collections/ais/query", json={"polygon": TRIANGLE, "datetime": MORNING}))
    assert got == want
    feature = {"type": "Feature", "properties": {}, "geometry": TRIANGLE}
    assert from_json(admin.post("/collections/ais/query", json={"polygon": feature, "datetime": MORNING})) == want
    body = {"polygon": TRIANGLE, "bbox": [-74.05, 40.6, -74.03, 40.7], "ids": [VESSEL, 256748000],
            "columns": ["object_id", "y"]}
    both = from_json(admin.post("/collections/ais/query", json=body))
    assert both == package_columns(ref.query(polygon=TRIANGLE, bbox=(-74.05, 40.6, -74.03, 40.7),
                                             ids=[VESSEL, 256748000], columns=["object_id", "y"]))


def test_explain_reports_the_plan_of_the_same_query(admin, ref):
    body = admin.get("/collections/ais/explain", params={"bbox": BOX_TEXT, "datetime": MORNING}).json()
    want = ref.explain(bbox=BOX, time=MORNING_NS).to_dict()
    for key in ("segments", "segments_considered", "blocks", "blocks_considered", "chunks_considered",
                "chunks_matched", "rows_scanned", "rows_returned", "probe"):
        assert body[key] == want[key], key
    assert body["rows_returned"] == 1037 and body["text"].startswith("strategy: ")
    posted = admin.post("/collections/ais/explain", json={"polygon": TRIANGLE, "datetime": MORNING}).json()
    assert posted["rows_returned"] == len(ref.query(polygon=TRIANGLE, time=MORNING_NS))


# ---- nearest, snapshot, track ----

def test_nearest_features_at_an_instant(admin, ref):
    got = from_json(admin.get("/collections/ais/nearest", params={"x": -74.02, "y": 40.65, "k": 3, "at": NOON}))
    want = ref.nearest(-74.02, 40.65, k=3, at=instant(NOON))
    assert got == package_columns(want, times="rfc3339")
    assert got["object_id"] == [367791540, 367638180, 367338610]


def test_nearest_samples_in_an_interval_with_max_gap_and_columns(admin, ref):
    params = {"x": -74.02, "y": 40.65, "k": 25, "datetime": "2020-12-03T12:00:00Z/2020-12-03T13:00:00Z",
              "columns": "object_id,t"}
    got = from_json(admin.get("/collections/ais/nearest", params=params))
    want = ref.nearest(-74.02, 40.65, k=25, time=(instant(NOON), instant("2020-12-03T13:00:00Z")),
                       columns=["object_id", "t"])
    assert list(got) == ["object_id", "t", "distance"] and got == package_columns(want, times="rfc3339")
    gapped = from_json(admin.get("/collections/ais/nearest", params={"x": -74.02, "y": 40.65, "k": 200, "at": NOON,
                                                                     "max_gap": "PT2M"}))
    assert gapped == package_columns(ref.nearest(-74.02, 40.65, k=200, at=instant(NOON), max_gap="2m"), "rfc3339")


def test_snapshot_with_and_without_max_gap(admin, ref):
    assert len(from_json(admin.get("/collections/ais/snapshot", params={"at": NOON}))["t"]) == 53
    got = from_json(admin.get("/collections/ais/snapshot", params={"at": NOON, "max_gap": "2m"}))
    assert got == package_columns(ref.snapshot(at=instant(NOON), max_gap="2m"), times="rfc3339")
    assert len(got["t"]) == 46
    boxed = from_json(admin.get("/collections/ais/snapshot", params={"at": NOON, "bbox": BOX_TEXT,
                                                                     "columns": "object_id,x,y"}))
    assert boxed == package_columns(ref.snapshot(at=instant(NOON), bbox=BOX, columns=["object_id", "x", "y"]))


def test_track_simplified_with_speed_and_heading(admin, ref):
    plain = from_json(admin.get(f"/collections/ais/track/{VESSEL}", params={"datetime": MORNING}))
    assert plain == package_columns(ref.track(VESSEL, time=MORNING_NS), times="rfc3339") and len(plain["t"]) == 214
    got = from_json(admin.get(f"/collections/ais/track/{VESSEL}",
                              params={"datetime": MORNING, "simplify": 25, "derive": "true"}))
    want = ref.track(VESSEL, time=MORNING_NS, simplify=25.0, derive=True)
    assert got == package_columns(want, times="rfc3339") and len(got["t"]) == 47
    assert got["speed"][0] is None and got["heading"][0] is None  # NaN: no step before the first sample
    assert from_json(admin.get("/collections/ais/track/123456789"))["t"] == []  # an unknown feature has no samples


# ---- aggregate ----

def test_aggregate_counts_per_cell_and_bucket(admin, ref):
    body = admin.get("/collections/ais/aggregate", params={"cell": "0.05", "bucket": "1D",
                                                           "bbox": "-74.3,40.4,-73.7,40.9"}).json()
    want = ref.aggregate(cell=0.05, bucket="1D", bbox=(-74.3, 40.4, -73.7, 40.9))
    assert body["dims"] == ["t", "y", "x"] and body["shape"] == [7, 11, 13] == list(want.count.shape)
    assert body["count"] == want.count.tolist() == body["values"] and body["stat"] == "count"
    assert body["axes"]["t"] == iso_array(want.t.view(np.int64))
    assert body["axes"]["x"] == want.x.tolist() and body["axes"]["y"] == want.y.tolist()
    daily = admin.get("/collections/ais/aggregate", params={"bucket": "P1D"}).json()
    assert daily["count"] == [21159, 35099, 32073, 30733, 21315, 18131, 14169] and daily["dims"] == ["t"]
    total = admin.get("/collections/ais/aggregate").json()
    assert total["dims"] == [] and total["count"] == 172679 and total["shape"] == []


def test_aggregate_statistics_leave_empty_cells_null(admin, ref):
    body = admin.get("/collections/ais/aggregate", params={"cell": "0.1,0.05", "value": "x", "stat": "mean",
                                                           "datetime": MORNING}).json()
    want = ref.aggregate(cell=(0.1, 0.05), value="x", stat="mean", time=MORNING_NS)
    assert body["stat"] == "mean" and body["value"] == "x"
    assert body["values"] == [[None if math.isnan(v) else v for v in row] for row in want.values.tolist()]
    assert None in body["values"][0] + body["values"][-1] and body["count"] == want.count.tolist()


# ---- property documents ----

def test_documents_as_of_a_time_and_their_history(admin, ref, tmp_path):
    versions = [("2020-12-01T00:00:00Z", {"name": "EVENING TIDE", "destination": "NEWARK"}),
                ("2020-12-03T00:00:00Z", {"name": "EVENING TIDE", "destination": "PORT ELIZABETH", "crew": [1, 2]})]
    mirror = demo_store(str(tmp_path / "mirror")).collection("ais")
    for at, doc in versions:
        resp = admin.put("/collections/ais/documents/367791540", params={"at": at}, json=doc)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"id": 367791540, "at": at, "properties": doc}
        mirror.set_properties(367791540, doc, at=instant(at))
    then = admin.get("/collections/ais/documents/367791540", params={"asOf": "2020-12-02T12:00:00Z"}).json()
    assert then == {"id": 367791540, "asOf": "2020-12-02T12:00:00Z",
                    "properties": mirror.properties(367791540, as_of=instant("2020-12-02T12:00:00Z"))}
    assert then["properties"]["destination"] == "NEWARK"
    latest = admin.get("/collections/ais/documents/367791540").json()
    assert latest == {"id": 367791540, "asOf": None, "properties": versions[1][1]}
    history = admin.get("/collections/ais/documents/367791540/history").json()
    assert history == {"id": 367791540, "versions": [
        {"validFrom": "2020-12-01T00:00:00Z", "validTo": "2020-12-03T00:00:00Z", "properties": versions[0][1]},
        {"validFrom": "2020-12-03T00:00:00Z", "validTo": None, "properties": versions[1][1]}]}
    assert [v["properties"] for v in history["versions"]] == [doc for _, doc in mirror.history(367791540)]
    assert_problem(admin.get("/collections/ais/documents/367791540", params={"asOf": "2020-11-30T00:00:00Z"}), 404,
                   "has no document as of 2020-11-30T00:00:00Z")
    assert_problem(admin.get("/collections/ais/documents/366851680"), 404, "has no document")
    assert admin.get("/collections/ais/documents/366851680/history").json() == {"id": 366851680, "versions": []}
    mirror._store.close()


def test_string_ids_holding_slashes_reach_track_and_documents(admin):
    """An id is one percent-encoded path segment, '/' (%2F) included: the server decodes it before routing."""
    created = admin.post("/collections", json={"id": "slashed", "itemType": "movingfeature"})
    assert created.status_code == 201, created.text
    ids = ["a/b", "a/b/history", "plain"]
    body = {"object_id": [i for i in ids for _ in range(3)], "t": [f"2020-12-03T00:0{k}:00Z" for k in range(3)] * 3,
            "x": [0.0, 0.1, 0.2] * 3, "y": [1.0, 1.1, 1.2] * 3}
    assert admin.post("/collections/slashed/samples", json=body).json()["appended"] == 9
    try:
        for oid in ids:
            seg = quote(oid, safe="")
            track = admin.get(f"/collections/slashed/track/{seg}").json()
            assert track["columns"]["object_id"] == [oid] * 3, oid
            put = admin.put(f"/collections/slashed/documents/{seg}", params={"at": "2020-12-01T00:00:00Z"},
                            json={"name": oid})
            assert put.status_code == 200 and put.json()["id"] == oid, put.text
            assert admin.get(f"/collections/slashed/documents/{seg}").json()["properties"] == {"name": oid}
        # ".../history" after an id is the history route: the id "a/b" has one version
        history = admin.get(f"/collections/slashed/documents/{quote('a/b', safe='')}/history").json()
        assert history["id"] == "a/b" and [v["properties"] for v in history["versions"]] == [{"name": "a/b"}]
        deleted = admin.delete(f"/collections/slashed/track/{quote('a/b', safe='')}")
        assert deleted.status_code in (200, 204), deleted.text
        assert admin.get("/collections/slashed/track/a%2Fb").json()["columns"]["object_id"] == []
        assert len(admin.get("/collections/slashed/track/a%2Fb%2Fhistory").json()["columns"]["t"]) == 3
    finally:
        assert admin.delete("/collections/slashed").status_code == 204


def test_a_document_without_at_is_valid_from_now(admin):
    resp = admin.put("/collections/ais/documents/366952790", json={"name": "NOW"})
    assert resp.status_code == 200 and resp.json()["at"] > "2024"
    assert admin.get("/collections/ais/documents/366952790").json()["properties"] == {"name": "NOW"}


def test_bad_documents_are_refused(admin):
    assert_problem(admin.put("/collections/ais/documents/366952790", json=[1, 2]), 422)
    assert_problem(admin.put("/collections/ais/documents/366952790", json={"a": 1}, params={"at": "noon"}), 400, "at")
    assert_problem(admin.put("/collections/ais/documents/vessel", json={"a": 1}), 400, "integer feature ids")
    assert_problem(admin.get("/collections/ais/documents/366952790", params={"asOf": "2020-13-01T00:00:00Z"}), 400,
                   "asOf")


# ---- formats ----

def test_every_format_decodes_to_the_json_answer(admin):
    url, params = "/collections/ais/nearest", {"x": -74.02, "y": 40.65, "k": 500, "datetime": MORNING}
    reference = from_json(admin.get(url, params={**params, "time_format": "ns"}))
    names = list(reference)
    assert names == ["object_id", "t", "x", "y", "distance"] and len(reference["t"]) == 500
    rfc = from_json(admin.get(url, params=params))
    assert rfc["t"] == iso_array(np.array(reference["t"])) and {k: v for k, v in rfc.items() if k != "t"} == \
        {k: v for k, v in reference.items() if k != "t"}
    def ask(how: dict, **extra):
        return admin.get(url, params={**params, **extra, **how.get("params", {})}, headers=how.get("headers"))

    for how in ({"headers": {"Accept": NDJSON}}, {"params": {"f": "ndjson"}}):
        assert from_ndjson(ask(how, time_format="ns"), names) == reference
    ndjson_rfc = from_ndjson(admin.get(url, params={**params, "f": "ndjson"}), names)
    assert ndjson_rfc == rfc
    for how in ({"headers": {"Accept": "text/csv"}}, {"params": {"f": "csv"}}):
        assert from_csv(ask(how, time_format="ns"), reference) == reference
    assert from_csv(admin.get(url, params={**params, "f": "csv"}), rfc) == rfc
    for how in ({"headers": {"Accept": ARROW}}, {"params": {"f": "arrow"}}):
        got, schema, _ = from_arrow(ask(how))
        assert got == reference
        assert schema.field("t").type == pa.timestamp("ns", tz="UTC") and schema.field("object_id").type == pa.int64()
        assert schema.field("distance").type == pa.float64()


def test_nan_travels_as_null_in_text_formats_and_nan_in_arrow(admin):
    url, params = f"/collections/ais/track/{VESSEL}", {"datetime": MORNING, "derive": "true", "time_format": "ns"}
    reference = from_json(admin.get(url, params=params))
    assert reference["speed"][0] is None and reference["speed"][1] is not None
    assert from_ndjson(admin.get(url, params={**params, "f": "ndjson"}), list(reference)) == reference
    assert from_csv(admin.get(url, params={**params, "f": "csv"}), reference) == reference
    text = admin.get(url, params={**params, "f": "csv"}).text.splitlines()
    assert text[1].endswith(",,")  # the first row's speed and heading: empty fields
    got, _, _ = from_arrow(admin.get(url, params={**params, "f": "arrow"}))
    assert got == reference


@pytest.mark.parametrize("accept, media", [
    ("text/csv, application/json", "text/csv"),
    ("application/json;q=0.5, application/x-ndjson", NDJSON),
    ("application/ndjson", NDJSON),
    ("*/*", "application/json"),
    ("text/*", "text/csv"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
    ("application/json;q=0, application/*", NDJSON),
    (f"{ARROW};q=0.9, text/csv;q=0.1", ARROW),
])
def test_accept_chooses_the_format(admin, accept, media):
    resp = admin.get("/collections/ais/snapshot", params={"at": NOON}, headers={"Accept": accept})
    assert resp.status_code == 200 and resp.headers["content-type"].split(";")[0] == media


def test_f_overrides_accept_and_unknown_formats_are_refused(admin):
    resp = admin.get("/collections/ais/snapshot", params={"at": NOON, "f": "csv"},
                     headers={"Accept": "application/json"})
    assert resp.headers["content-type"].startswith("text/csv")
    for accept in ("text/html", "application/xml, image/png", "application/json;q=0"):
        body = assert_problem(admin.get("/collections/ais/snapshot", params={"at": NOON}, headers={"Accept": accept}),
                              406, "nothing this endpoint writes matches Accept")
        assert ARROW in body["detail"]
    assert_problem(admin.get("/collections/ais/snapshot", params={"at": NOON, "f": "xml"}), 422)
    assert_problem(admin.get("/collections/ais/snapshot", params={"at": NOON, "time_format": "unix"}), 422)


def test_empty_answers_in_every_format(admin):
    params = {"bbox": "10,10,11,11", "datetime": MORNING}
    body = admin.get("/collections/ais/query", params=params).json()
    assert body == {"numberReturned": 0, "columns": {"object_id": [], "t": [], "x": [], "y": []}}
    ndjson = admin.get("/collections/ais/query", params={**params, "f": "ndjson"})
    assert ndjson.status_code == 200 and ndjson.content == b""
    assert admin.get("/collections/ais/query", params={**params, "f": "csv"}).text == "object_id,t,x,y\r\n"
    got, schema, batches = from_arrow(admin.get("/collections/ais/query", params={**params, "f": "arrow"}))
    assert got == {"object_id": [], "t": [], "x": [], "y": []} and batches == 0
    assert schema.field("t").type == pa.timestamp("ns", tz="UTC") and schema.field("x").type == pa.float64()
    nothing = admin.get("/collections/ais/nearest", params={"x": 0, "y": 0, "at": "1999-01-01T00:00:00Z"}).json()
    assert nothing["numberReturned"] == 0 and list(nothing["columns"]) == ["object_id", "t", "x", "y", "distance"]


def test_large_answers_stream_in_chunks_and_json_has_a_row_cap(admin, ref):
    total = len(ref.query(columns=["t"]))
    assert total == 172679
    for fmt in ("ndjson", "csv", "arrow"):
        with admin.stream("GET", "/collections/ais/query", params={"f": fmt}) as resp:
            assert resp.status_code == 200
            assert resp.headers.get("transfer-encoding") == "chunked" and "content-length" not in resp.headers
            parts = list(resp.iter_raw())
            content = b"".join(parts)
        if fmt == "ndjson":
            assert content.count(b"\n") == total
        elif fmt == "csv":
            assert content.count(b"\r\n") == total + 1
        else:
            table = pa.ipc.open_stream(content).read_all()
            assert table.num_rows == total
            ids = ref.query(columns=["object_id"])["object_id"]
            assert table.column("object_id").to_numpy().tolist() == ids.tolist()
    _, _, batches = from_arrow(admin.get("/collections/ais/query", params={"f": "arrow"}))
    assert batches == math.ceil(total / 65536)
    body = assert_problem(admin.get("/collections/ais/query"), 406, "172,679 rows, more than the 100,000")
    assert "application/x-ndjson" in body["detail"]
    day = admin.get("/collections/ais/query", params={"datetime": "2020-12-02T00:00:00Z/2020-12-03T00:00:00Z",
                                                      "columns": "t"}).json()  # under the cap: JSON
    assert day["numberReturned"] == len(ref.query(time=(instant("2020-12-02T00:00:00Z"), MORNING_NS[0]))) > 35000


# ---- bad arguments ----

@pytest.mark.parametrize("path, params, status, detail", [
    ("query", {"bbox": "1,2,3"}, 400, "bbox"),
    ("query", {"bbox": "-74,41,-73,40"}, 400, "minLat"),
    ("query", {"bbox": "a,b,c,d"}, 400, "bbox"),
    ("query", {"datetime": "yesterday"}, 400, "datetime"),
    ("query", {"datetime": "2020-12-03T00:00:00Z/2020-12-02T00:00:00Z"}, 400, "start is after the end"),
    ("query", {"columns": "x,speed"}, 400, "unknown column"),
    ("query", {"columns": "x,,y"}, 400, "columns"),
    ("query", {"ids": "367000150,boat"}, 400, "integer feature ids"),
    ("explain", {"datetime": "2020-12-03"}, 400, "datetime"),
    ("nearest", {"x": -74, "y": 40.6}, 400, "exactly one of at"),
    ("nearest", {"x": -74, "y": 40.6, "at": NOON, "datetime": MORNING}, 400, "exactly one of at"),
    ("nearest", {"x": "nan", "y": 40.6, "at": NOON}, 400, "x must be finite"),
    ("nearest", {"x": -74, "y": 40.6, "at": NOON, "k": 0}, 422, "k"),
    ("nearest", {"x": "west", "y": 40.6, "at": NOON}, 422, "x"),
    ("nearest", {"x": -74, "y": 40.6, "at": NOON, "max_gap": "ten minutes"}, 400, "max_gap"),
    ("nearest", {"x": -74, "y": 40.6, "at": NOON, "max_gap": "PT"}, 400, "max_gap"),
    ("nearest", {"x": -74, "y": 40.6, "at": "9999-12-31T23:59:59Z"}, 400, "outside the years 1678-2261"),
    ("nearest", {"x": -74, "y": 40.6, "at": NOON, "max_gap": "P99999999999D"}, 400, "'P99999999999D' is too long"),
    ("query", {"datetime": "0001-01-01T00:00:00Z/.."}, 400, "outside the years"),
    ("snapshot", {}, 422, "at"),
    ("snapshot", {"at": "12:00"}, 400, "at"),
    ("snapshot", {"at": NOON, "bbox": "0,0,1"}, 400, "bbox"),
    (f"track/{VESSEL}", {"simplify": -1}, 422, "simplify"),
    (f"track/{VESSEL}", {"derive": "maybe"}, 422, "derive"),
    ("track/vessel", {}, 400, "integer feature ids"),
    ("aggregate", {"cell": "small"}, 400, "cell"),
    ("aggregate", {"cell": "0,1"}, 400, "cell"),
    ("aggregate", {"cell": "0.1,0.1,0.1"}, 400, "cell"),
    ("aggregate", {"bucket": "fortnight"}, 400, "bucket"),
    ("aggregate", {"stat": "mean"}, 400, "needs value"),
    ("aggregate", {"stat": "mean", "value": "speed"}, 400, "value must be a numeric column"),
    ("aggregate", {"stat": "median", "value": "x"}, 422, "stat"),
    ("aggregate", {"cell": "0.00001", "bucket": "1h"}, 400, "cells, more than the 1,000,000"),
    ("aggregate", {"cell": "1e-320"}, 400, "cells, more than"),
    ("aggregate", {"bucket": "0s"}, 400, "bucket must be positive"),
    ("aggregate", {"bucket": "P1M"}, 400, "bucket 'P1M' is not a duration"),
])
def test_bad_arguments_are_problems_naming_them(admin, path, params, status, detail):
    assert_problem(admin.get(f"/collections/ais/{path}", params=params), status, detail)


@pytest.mark.parametrize("body, status, detail", [
    ({"polygon": {"type": "Point", "coordinates": [0, 0]}}, 400, "Polygon or MultiPolygon"),
    ({"polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}, 400, "at least 3 distinct"),
    ({"polygon": {"type": "Feature", "properties": {}}}, 400, "without a geometry"),
    ({"bbox": [1, 2, 3, 4, 5]}, 400, "bbox"),
    ({"datetime": "soon"}, 400, "datetime"),
    ({"ids": [1.5]}, 422, "ids"),
    ({"columns": []}, 400, "at least one column"),
    ({"colour": "red"}, 422, "colour"),
    ([1, 2], 422, None),
])
def test_bad_bodies_are_problems(admin, body, status, detail):
    assert_problem(admin.post("/collections/ais/query", json=body), status, detail)
    assert_problem(admin.post("/collections/ais/explain", json=body), status, detail)


def test_unknown_collections_are_404_everywhere(admin):
    for method, path in [("GET", "query"), ("POST", "query"), ("GET", "explain"), ("GET", "nearest?x=0&y=0&at=" + NOON),
                         ("GET", "snapshot?at=" + NOON), ("GET", "track/1"), ("GET", "aggregate"),
                         ("GET", "documents/1"), ("GET", "documents/1/history")]:
        resp = admin.request(method, f"/collections/nope/{path}", json={} if method == "POST" else None)
        assert_problem(resp, 404, "no collection 'nope'")


# ---- grants limited to a region and a time window ----

def test_reads_under_a_limited_grant_see_only_its_region_and_window(users, ref):
    partner = users["partner"]
    got = from_json(partner.get("/collections/ais/query", params={"columns": "object_id,t"}))
    assert got == package_columns(ref.query(bbox=BOX, time=WINDOW_NS, columns=["object_id", "t"]), "rfc3339")
    wider = from_json(partner.get("/collections/ais/query", params={"bbox": "-74.3,40.4,-73.7,40.9",
                                                                    "datetime": "2020-12-03T06:00:00Z/.."}))
    assert wider == package_columns(ref.query(bbox=BOX, time=(instant("2020-12-03T06:00:00Z"), WINDOW_NS[1])),
                                    "rfc3339")
    outside = from_json(partner.get("/collections/ais/query", params={"datetime": "2020-12-05T00:00:00Z/.."}))
    assert outside == {"object_id": [], "t": [], "x": [], "y": []}
    plan = partner.get("/collections/ais/explain").json()
    assert plan["rows_returned"] == len(ref.query(bbox=BOX, time=WINDOW_NS))
    snap = from_json(partner.get("/collections/ais/snapshot", params={"at": "2020-12-03T06:00:00Z", "columns": "x"}))
    assert snap == package_columns(ref.snapshot(at=instant("2020-12-03T06:00:00Z"), bbox=BOX, columns=["x"]))
    assert from_json(partner.get("/collections/ais/snapshot", params={"at": "2020-12-04T06:00:00Z"}))["t"] == []
    track = from_json(partner.get(f"/collections/ais/track/{VESSEL}", params={"derive": "true"}))
    full = ref.track(VESSEL, time=WINDOW_NS, derive=True)
    keep = np.asarray([BOX[0] <= x <= BOX[2] and BOX[1] <= y <= BOX[3] for x, y in zip(full["x"], full["y"])])
    assert track == package_columns(ct.Result({k: v[keep] for k, v in full.to_dict().items()}), "rfc3339")
    assert 0 < len(track["t"]) < len(full)


def test_a_polygon_grant_filters_rows_by_the_polygon(users, ref):
    fenced = users["fenced"]
    got = from_json(fenced.get("/collections/ais/query", params={"datetime": MORNING}))
    assert got == package_columns(ref.query(polygon=TRIANGLE, time=MORNING_NS), "rfc3339")
    square = {"type": "Polygon", "coordinates": [[[-74.04, 40.6], [-74.0, 40.6], [-74.0, 40.7], [-74.04, 40.7]]]}
    both = from_json(fenced.post("/collections/ais/query", json={"polygon": square, "datetime": MORNING}))
    in_square, in_triangle = (ref.query(polygon=p, time=MORNING_NS) for p in (square, TRIANGLE))
    triangle_keys = set(zip(in_triangle["object_id"].tolist(), in_triangle["t"].view(np.int64).tolist()))
    keep = np.array([key in triangle_keys for key in zip(in_square["object_id"].tolist(),
                                                         in_square["t"].view(np.int64).tolist())])
    assert 0 < keep.sum() < len(keep)
    assert both == package_columns(ct.Result({k: v[keep] for k, v in in_square.to_dict().items()}), "rfc3339")
    assert_problem(fenced.get("/collections/ais/aggregate", params={"cell": "0.01"}), 403, "limited to a polygon")


def _inside(rows: dict) -> np.ndarray:
    x, y = np.asarray(rows["x"]), np.asarray(rows["y"])
    return (x >= BOX[0]) & (x <= BOX[2]) & (y >= BOX[1]) & (y <= BOX[3])


@pytest.mark.parametrize("when", [{"at": "2020-12-03T11:00:00Z"},
                                  {"datetime": "2020-12-03T10:00:00Z/2020-12-03T14:00:00Z"}])
def test_nearest_under_a_region_grant_is_the_k_nearest_inside_it(users, ref, when):
    # a point south-west of the region: the globally nearest lie outside it, so the search must widen
    args = {"x": -74.10, "y": 40.55, "k": 5, **when}
    got = from_json(users["partner"].get("/collections/ais/nearest", params=args))
    if "at" in when:
        every = ref.nearest(-74.10, 40.55, k=100_000, at=instant(when["at"]))
    else:
        every = ref.nearest(-74.10, 40.55, k=100_000, time=(instant("2020-12-03T10:00:00Z"), WINDOW_NS[1]))
    all_rows = every.to_dict()
    keep = _inside(all_rows)
    assert not keep[:5].all()  # the first five overall are not all inside: the answer needed a wider search
    want = ct.Result({k: v[keep][:5] for k, v in all_rows.items()})
    assert got == package_columns(want, "rfc3339") and len(got["t"]) == 5
    late = users["partner"].get("/collections/ais/nearest", params={"x": -74.10, "y": 40.55, "k": 5,
                                                                     "at": "2020-12-04T00:00:00Z"})
    assert from_json(late)["t"] == []


def test_aggregate_under_a_box_grant_clips_the_box(users, ref):
    body = users["partner"].get("/collections/ais/aggregate", params={"cell": "0.01", "bucket": "PT6H",
                                                                      "bbox": "-74.10,40.55,-74.02,40.65"}).json()
    clipped = (-74.05, 40.60, -74.02, 40.65)
    want = ref.aggregate(cell=0.01, bucket="6h", bbox=clipped, time=WINDOW_NS)
    assert body["count"] == want.count.tolist() and body["axes"]["x"] == want.x.tolist()
    assert body["axes"]["t"] == iso_array(want.t.view(np.int64)) and sum(map(sum, sum(body["count"], []))) > 0
    apart = users["partner"].get("/collections/ais/aggregate", params={"cell": "0.01", "bbox": "10,10,11,11"}).json()
    assert apart["shape"] == [0, 0] and apart["count"] == []


def test_documents_under_a_limited_grant(admin, users, ref):
    visible = int(ref.query(bbox=BOX, time=WINDOW_NS, columns=["object_id"])["object_id"][0])
    invisible = int(np.setdiff1d(ref.ids(), ref.ids(bbox=BOX, time=WINDOW_NS))[0])
    for oid in (visible, invisible):
        for at, doc in [("2020-12-02T00:00:00Z", {"v": 1}), ("2020-12-03T06:00:00Z", {"v": 2}),
                        ("2020-12-04T00:00:00Z", {"v": 3})]:
            assert admin.put(f"/collections/ais/documents/{oid}", params={"at": at}, json=doc).status_code == 200
    partner = users["partner"]
    assert partner.get(f"/collections/ais/documents/{visible}").json() == \
        {"id": visible, "asOf": NOON, "properties": {"v": 2}}  # as of the end of the window, not the latest
    assert partner.get(f"/collections/ais/documents/{visible}", params={"asOf": "2020-12-03T01:00:00Z"}).json()[
        "properties"] == {"v": 1}
    assert_problem(partner.get(f"/collections/ais/documents/{visible}", params={"asOf": "2020-12-05T00:00:00Z"}), 404,
                   "outside the time window of your grant")
    history = partner.get(f"/collections/ais/documents/{visible}/history").json()["versions"]
    assert [v["properties"] for v in history] == [{"v": 1}, {"v": 2}]
    assert_problem(partner.get(f"/collections/ais/documents/{invisible}"), 404, "inside the region and time window")
    assert_problem(partner.get(f"/collections/ais/documents/{invisible}/history"), 404)
    assert admin.get(f"/collections/ais/documents/{invisible}").json()["properties"] == {"v": 3}


def test_writing_documents_needs_the_writer_role_and_the_grant(users, ref):
    visible = int(ref.query(bbox=BOX, time=WINDOW_NS, columns=["object_id"])["object_id"][-1])
    invisible = int(np.setdiff1d(ref.ids(), ref.ids(bbox=BOX, time=WINDOW_NS))[-1])
    url = f"/collections/ais/documents/{visible}"
    assert_problem(users["reader"].put(url, json={"a": 1}, params={"at": NOON}), 403, "writer")
    assert_problem(users["partner"].put(url, json={"a": 1}, params={"at": NOON}), 403, "writer")
    assert users["writer"].put(url, json={"a": 1}, params={"at": "2020-12-01T00:00:00Z"}).status_code == 200
    scribe = users["scribe"]
    assert_problem(scribe.put(url, json={"a": 2}, params={"at": "2020-12-05T00:00:00Z"}), 403,
                   "outside the time window")
    assert_problem(scribe.put(url, json={"a": 2}), 403, "outside the time window")  # now is long after the window
    assert_problem(scribe.put(f"/collections/ais/documents/{invisible}", json={"a": 2}, params={"at": NOON}), 403,
                   "no sample inside")
    assert scribe.put(url, json={"a": 2}, params={"at": NOON}).status_code == 200
    assert users["reader"].get(url).json()["properties"] == {"a": 2}


def test_the_store_endpoints_need_admin(users, admin):
    for name in ("reader", "writer", "partner"):
        client = users[name]
        assert_problem(client.get("/stats"), 403, "admin")
        for action in ("compact", "verify"):
            assert_problem(client.post(f"/admin/{action}"), 403, "admin")
        assert_problem(client.post("/admin/prune", params={"older_than": "2000-01-01T00:00:00Z"}), 403, "admin")


def test_without_credentials_every_engine_route_is_401(srv):
    import httpx

    for method, path in [("GET", "/collections/ais/query"), ("POST", "/collections/ais/query"), ("GET", "/stats"),
                         ("POST", "/admin/verify"), ("PUT", "/collections/ais/documents/1")]:
        assert_problem(httpx.request(method, srv.url + path, json={}), 401)


# ---- the store ----

def test_stats_and_verify(admin, ref):
    stats = admin.get("/stats").json()
    assert stats["collections"]["ais"]["points"] == ref._store.stats()["collections"]["ais"]["points"] == 172679
    assert stats["collections"]["ais"]["objects"] == 140 and "hits" in stats["cache"]
    assert admin.post("/admin/verify").json() == {"ok": True, "problems": []}
    nothing = admin.post("/admin/prune", params={"older_than": "2000-01-01T00:00:00Z"})
    assert nothing.status_code == 200 and nothing.json() == {"rows_removed": 0}
    assert_problem(admin.post("/admin/prune", params={"older_than": "last week"}), 400, "older_than")
    assert_problem(admin.post("/admin/prune"), 422, "older_than")


def test_prune_and_compact_change_the_store_as_the_package_does(tmp_path):
    server = Server("--store", str(tmp_path / "store"), "--demo").start()
    mirror = demo_store(str(tmp_path / "mirror"))
    try:
        with server.client() as client:
            resp = client.post("/admin/prune", params={"older_than": "2020-12-03T00:00:00Z", "keep_every": "PT10M"})
            want = mirror.prune(older_than=instant("2020-12-03T00:00:00Z"), keep_every="10m")
            assert resp.status_code == 200 and resp.json() == want and want["rows_removed"] > 0
            gone = client.post("/admin/prune", params={"older_than": "2020-12-02T00:00:00Z"}).json()
            assert gone == mirror.prune(older_than=instant("2020-12-02T00:00:00Z"))
            days = client.get("/collections/ais/aggregate", params={"bucket": "1D"}).json()
            assert days["axes"]["t"][0] == "2020-12-02T00:00:00Z"
            assert days["count"] == mirror.collection("ais").aggregate(bucket="1D").count.tolist()
            compacted = client.post("/admin/compact")
            assert compacted.status_code == 200 and compacted.json() == mirror.compact()
            assert client.post("/admin/verify").json()["ok"] is True
            everything = client.post("/admin/prune", params={"older_than": "P1D"}).json()  # a day before now
            assert everything["rows_removed"] == len(mirror.collection("ais"))
            assert client.get("/stats").json()["collections"]["ais"]["points"] == 0
    finally:
        mirror.close()
        assert server.stop() == 0


# ---- the API description ----

ROW_ROUTES = [("get", "/collections/{collectionId}/query"), ("post", "/collections/{collectionId}/query"),
              ("get", "/collections/{collectionId}/nearest"), ("get", "/collections/{collectionId}/snapshot"),
              ("get", "/collections/{collectionId}/track/{objectId}")]
JSON_ROUTES = [("get", "/collections/{collectionId}/explain"), ("post", "/collections/{collectionId}/explain"),
               ("get", "/collections/{collectionId}/aggregate"),
               ("get", "/collections/{collectionId}/documents/{objectId}"),
               ("put", "/collections/{collectionId}/documents/{objectId}"),
               ("get", "/collections/{collectionId}/documents/{objectId}/history"), ("get", "/stats"),
               ("post", "/admin/compact"), ("post", "/admin/prune"), ("post", "/admin/verify")]


def test_the_openapi_document_describes_every_engine_route(srv):
    import httpx

    paths = httpx.get(srv.url + "/api").json()["paths"]
    for method, path in ROW_ROUTES + JSON_ROUTES:
        op = paths[path][method]
        assert op["summary"] and op["description"] and op["tags"], (method, path)
        for param in op.get("parameters", []):
            assert param.get("description"), (path, param["name"])
        responses = op["responses"]
        assert "application/json" in responses["200"]["content"], (method, path)
        for code in ("401", "403"):
            assert "application/problem+json" in responses[code]["content"], (method, path, code)
        if (method, path) in ROW_ROUTES:
            assert set(responses["200"]["content"]) == {"application/json", NDJSON, ARROW, "text/csv"}
            assert "application/problem+json" in responses["406"]["content"]
            assert {"f", "time_format"} <= {p["name"] for p in op["parameters"]}
        if "requestBody" in op:
            assert op["requestBody"]["content"]["application/json"].get("examples"), (method, path)


def test_times_are_written_as_params_iso_array_writes_them():
    from chronotope_api.outputs import rfc3339

    rng = np.random.default_rng(7)
    t = np.concatenate([rng.integers(-2 * 10**18, 9 * 10**18, 5000), [0, -1, 10**9, 1_500_000_000, 1_000_000_001]])
    assert rfc3339(t).to_pylist() == iso_array(t)
    whole = t // 10**9 * 10**9
    assert rfc3339(whole).to_pylist() == iso_array(whole)
