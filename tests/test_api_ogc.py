"""OGC API – Moving Features resources and MF-JSON against a real server (`chronotope serve --demo`).

Reads of the demo collection "ais" (the bundled real AIS sample) are checked
against the package itself, opened read-only beside the server; writes go to
collections the tests create.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import numpy as np
import pytest

pytest.importorskip("fastapi")
import chronotope as ct  # noqa: E402
from chronotope.spatial import EARTH_RADIUS_M  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import assert_problem, serving  # noqa: E402

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
CRS84 = {"type": "Name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
TRS = {"type": "Link", "properties": {"type": "OGCDEF", "href": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}}
MF = "http://www.opengis.net/spec/ogcapi-movingfeatures-1/1.0/conf/"
GAP_S = 600  # the demo's and fleet's max_gap
STEP_M = EARTH_RADIUS_M * math.radians(0.001)  # 0.001 degree of latitude on the sphere


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("ogc") / "store")
    with serving(store, "--demo") as server:
        yield server


@pytest.fixture(scope="module")
def api(srv):
    with srv.client() as client:
        yield client


@pytest.fixture(scope="module")
def ais(srv):
    """The demo collection, read by the package beside the server (the oracle)."""
    db = ct.open(srv.store, readonly=True)
    try:
        yield db.collection("ais")
    finally:
        db.close()


@pytest.fixture(scope="module")
def fleet(api):
    """A collection with temporal properties and string ids, for the writes."""
    resp = api.post("/collections", json={
        "id": "fleet", "title": "Test fleet", "itemType": "movingfeature", "description": "written by the tests",
        "properties": {"sog": {"type": "float32", "form": "KNT", "description": "speed over ground"},
                       "status": "int16", "moored": "bool"}, "max_gap": "10m"})
    assert resp.status_code == 201, resp.text
    return "fleet"


def _track(n: int, start: str = "2024-05-01T10:00:00", lat0: float = 40.6, gap_after: int | None = None):
    """n samples 10 s apart moving north 0.001 degree each (a gap of 20 minutes after sample ``gap_after``)."""
    t = np.datetime64(start, "s") + np.arange(n) * np.timedelta64(10, "s")
    if gap_after is not None:
        t[gap_after + 1:] += np.timedelta64(20, "m")
    times = [str(v) + "Z" for v in t]
    coords = [[-74.0, round(lat0 + 0.001 * i, 6)] for i in range(n)]
    return times, coords


def _moving_point(times, coords):
    return {"type": "MovingPoint", "datetimes": times, "coordinates": coords, "interpolation": "Linear"}


def _feature(fid, n=4, **kw):
    times, coords = _track(n, **kw)
    return {"type": "Feature", "id": fid, "crs": CRS84, "trs": TRS, "properties": {"name": f"vessel {fid}"},
            "temporalGeometry": _moving_point(times, coords),
            "temporalProperties": [{"datetimes": times,
                                    "sog": {"type": "Measure", "values": [round(1.5 + i, 1) for i in range(n)],
                                            "interpolation": "Linear", "form": "KNT",
                                            "description": "speed over ground"},
                                    "status": {"type": "Measure", "values": [i % 3 for i in range(n)],
                                               "interpolation": "Step"},
                                    "moored": {"type": "Text", "values": [i % 2 == 1 for i in range(n)],
                                               "interpolation": "Step"}}]}


def _pages(api, url, params, key):
    """Every item over the `next` links, and the pages' sizes."""
    items, sizes, resp = [], [], api.get(url, params=params)
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body[key]
        sizes.append(body.get("numberReturned", len(body[key])))
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if not nxt:
            return items, sizes, body
        assert "cursor=" in nxt[0] and f"limit={params['limit']}" in nxt[0]
        resp = api.get(nxt[0])


# ---------------------------------------------------------------- capabilities and collections


def test_conformance_names_the_moving_features_classes(api):
    conf = api.get("/conformance").json()["conformsTo"]
    for cls in ("common", "mf-collection", "movingfeatures"):
        assert MF + cls in conf


def test_a_collection_is_created_described_replaced_and_deleted(api):
    body = {"id": "drones", "title": "Drones", "description": "test flights", "itemType": "movingfeature",
            "updateFrequency": 1000, "properties": {"battery": {"type": "float32", "form": "P1"}, "mode": "uint8"},
            "has_z": True, "max_gap": "90s", "partition": "6h"}
    resp = api.post("/collections", json=body)
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert resp.headers["location"] == f"{api.base_url}/collections/drones" == doc["links"][0]["href"]
    assert {k: doc[k] for k in ("id", "title", "description", "itemType", "updateFrequency")} == {
        "id": "drones", "title": "Drones", "description": "test flights", "itemType": "movingfeature",
        "updateFrequency": 1000}
    assert doc["chronotope"] == {"properties": {"battery": {"type": "float32", "interpolation": "Linear", "form": "P1"},
                                                "mode": {"type": "uint8", "interpolation": "Step"}},
                                 "has_z": True, "max_gap": "90s", "partition": "21600s", "id_kind": None,
                                 "metadata": {"title": "Drones", "description": "test flights",
                                              "updateFrequency": 1000, "properties": {"battery": {"form": "P1"}}}}
    assert "extent" not in doc  # empty
    assert api.get("/collections/drones").json() == doc
    assert "drones" in [c["id"] for c in api.get("/collections").json()["collections"]]
    assert_problem(api.post("/collections", json=body), 409, "exists already")
    # PUT replaces the title and the description; updateFrequency is ignored as the standard says
    resp = api.put("/collections/drones", json={"title": "Drone flights", "updateFrequency": 5})
    assert resp.status_code == 204 and resp.content == b""
    again = api.get("/collections/drones").json()
    assert again["title"] == "Drone flights" and "description" not in again and again["updateFrequency"] == 1000
    fixed = ("properties", "has_z", "max_gap", "partition", "id_kind")
    assert {k: again["chronotope"][k] for k in fixed} == {k: doc["chronotope"][k] for k in fixed}
    assert again["chronotope"]["metadata"] == {"title": "Drone flights", "updateFrequency": 1000,
                                               "properties": {"battery": {"form": "P1"}}}
    # "metadata" replaces the whole descriptive metadata (Collection.set_metadata), then title/description apply
    resp = api.put("/collections/drones", json={"metadata": {"units": {"battery": "%"}}, "description": "d"})
    assert resp.status_code == 204, resp.text
    again = api.get("/collections/drones").json()
    assert again["chronotope"]["metadata"] == {"units": {"battery": "%"}, "description": "d"}
    assert again["title"] == "drones" and again["description"] == "d" and "updateFrequency" not in again
    assert again["chronotope"]["properties"]["battery"] == {"type": "float32", "interpolation": "Linear"}
    nan = api.put("/collections/drones", content=b'{"metadata": {"x": NaN}}',
                  headers={"Content-Type": "application/json"})
    assert nan.status_code in (400, 422), nan.text
    assert_problem(api.put("/collections/drones", json={"metadata": ["x"]}), 422, "metadata")
    assert_problem(api.put("/collections/drones", json={"itemType": "feature"}), 422, "itemType")
    assert_problem(api.put("/collections/nope", json={"title": "x"}), 404)
    assert api.delete("/collections/drones").status_code == 204
    assert_problem(api.get("/collections/drones"), 404)
    assert_problem(api.delete("/collections/drones"), 404)


def test_collection_bodies_are_checked(api):
    mf = {"itemType": "movingfeature"}
    assert_problem(api.post("/collections", json={"id": "1abc", **mf}), 422, "body.id")
    assert_problem(api.post("/collections", json={"id": "c1", "properties": {"name": "str"}, **mf}), 422, "not numeric")
    assert_problem(api.post("/collections", json={"id": "c2", "properties": {"x": "float32"}, **mf}), 422, "reserved")
    assert_problem(api.post("/collections", json={"id": "c3", "max_gap": "soon", **mf}), 422, "max_gap")
    assert_problem(api.post("/collections", json={"id": "c5", "has_z": 1, **mf}), 422, "has_z")
    assert_problem(api.post("/collections", json={"id": "c6", "partition": "4431096470D", **mf}), 422, "100 years")
    assert_problem(api.post("/collections", json={"id": "c4", "itemType": "feature"}), 422, "itemType")
    assert_problem(api.post("/collections", content=b"{not json", headers={"content-type": "application/json"}), 422)
    assert_problem(api.post("/collections", json={"title": "no item type"}), 422, "itemType")  # the standard's
    made = api.post("/collections", json={"title": "no id given", "itemType": "movingfeature"})
    assert made.status_code == 201 and re.fullmatch(r"mfc_[0-9a-f]{12}", made.json()["id"])
    assert made.json()["title"] == "no id given" and made.json()["chronotope"]["properties"] == {}
    assert api.delete(urlsplit(made.headers["location"]).path).status_code == 204


# ---------------------------------------------------------------- moving features


def test_paging_visits_every_feature_exactly_once(api, ais):
    features, sizes, last = _pages(api, "/collections/ais/items", {"limit": 30}, "features")
    ids = [f["id"] for f in features]
    expected = np.unique(ais.scan(columns=["object_id"])["object_id"]).tolist()
    assert ids == expected and len(expected) == 140
    assert sizes == [30, 30, 30, 30, 20] and last["numberMatched"] == 140
    assert [f["id"] for f in api.get("/collections/ais/items").json()["features"]] == expected[:10]  # default 10


def test_a_feature_collection_page_has_the_members_of_the_standard(api, ais):
    resp = api.get("/collections/ais/items", params={"limit": 3})
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["type"] == "FeatureCollection" and body["crs"] == CRS84 and body["trs"] == TRS
    assert body["numberReturned"] == 3 and body["numberMatched"] == 140 and RFC3339.match(body["timeStamp"])
    self_link = [link for link in body["links"] if link["rel"] == "self"][0]
    assert self_link["href"].endswith("/collections/ais/items?limit=3") and self_link["type"] == "application/json"
    for f in body["features"]:
        assert f["type"] == "Feature" and isinstance(f["id"], int) and f["properties"] is None
        assert f["crs"] == CRS84 and f["trs"] == TRS and "temporalGeometry" not in f
        track = ais.track(f["id"])
        x, y, t = track["x"], track["y"], track["t"]
        assert f["bbox"] == [x.min(), y.min(), x.max(), y.max()]
        assert f["time"] == [str(t[0])[:19] + "Z", str(t[-1])[:19] + "Z"]
        rels = {link["rel"]: link["href"] for link in f["links"]}
        assert rels["self"] == f"{api.base_url}/collections/ais/items/{f['id']}"
        assert rels["tgsequence"] == rels["self"] + "/tgsequence" and rels["tproperties"] == rels["self"] + "/tproperties"


def test_bbox_and_datetime_select_features(api, ais):
    box = (-74.08, 40.62, -74.0, 40.70)
    got = _pages(api, "/collections/ais/items", {"limit": 1000, "bbox": ",".join(map(str, box))}, "features")[0]
    assert [f["id"] for f in got] == np.unique(ais.query(bbox=box, columns=["object_id"])["object_id"]).tolist()
    # an instant selects the features whose position is known then, sampled or interpolated
    at = "2020-12-03T12:00:00Z"
    got = api.get("/collections/ais/items", params={"limit": 1000, "datetime": at}).json()
    snap = ais.snapshot(at=np.datetime64(at[:-1]), columns=["object_id"])["object_id"]
    assert [f["id"] for f in got["features"]] == np.unique(snap).tolist() and got["numberMatched"] == len(snap) > 10
    both = api.get("/collections/ais/items", params={"limit": 1000, "datetime": "2020-12-03T12:00:00Z/..",
                                                      "bbox": ",".join(map(str, box))}).json()
    assert 0 < both["numberMatched"] < len(got["features"]) + 140
    later = ais.query(bbox=box, time=(np.datetime64(at[:-1]), None), columns=["object_id"])["object_id"]
    assert set(np.unique(later).tolist()) <= {f["id"] for f in both["features"]}
    empty = api.get("/collections/ais/items", params={"datetime": "2021-01-01T00:00:00Z/.."}).json()
    assert empty["features"] == [] and empty["numberMatched"] == 0 and [lk["rel"] for lk in empty["links"]] == ["self"]


def test_sub_trajectories_are_clipped_to_the_interval_with_interpolated_ends(api, ais):
    t0, t1 = "2020-12-03T12:00:00Z", "2020-12-03T12:30:00Z"
    body = api.get("/collections/ais/items", params={"limit": 1000, "datetime": f"{t0}/{t1}",
                                                      "subTrajectory": "true"}).json()
    assert body["numberMatched"] == len(body["features"]) > 10
    present_at_start = set(ais.snapshot(at=np.datetime64(t0[:-1]), columns=["object_id"])["object_id"].tolist())
    for f in body["features"]:
        geom = f["temporalGeometry"]
        prisms = geom["prisms"] if geom["type"] == "MovingGeometryCollection" else [geom]
        times = [d for p in prisms for d in p["datetimes"]]
        assert all(p["type"] == "MovingPoint" and p["interpolation"] == "Linear" for p in prisms)
        assert all(RFC3339.match(d) and t0 <= d <= t1 for d in times) and times == sorted(set(times))
        assert (times[0] == t0) == (f["id"] in present_at_start)
        assert all(len(p["coordinates"]) == len(p["datetimes"]) for p in prisms)
    assert_problem(api.get("/collections/ais/items", params={"subTrajectory": "true"}), 400, "bounded")
    assert_problem(api.get("/collections/ais/items", params={"subTrajectory": "true", "datetime": f"{t0}/.."}),
                   400, "bounded")


@pytest.mark.parametrize("params, detail", [
    ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"), ({"bbox": "0,10,1,5"}, "minLat"),
    ({"datetime": "yesterday"}, "RFC 3339"), ({"datetime": "2020-12-02T00:00:00Z/2020-12-01T00:00:00Z"}, "after"),
    ({"limit": "0"}, "limit"), ({"limit": "10001"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"cursor": "garbage!"}, "cursor"), ({"cursor": "eyJhIjoiMSJ9"}, "cursor"), ({"subTrajectory": "maybe"}, "true or false"),
])
def test_bad_parameters_are_400(api, params, detail):
    assert_problem(api.get("/collections/ais/items", params=params), 400, detail)


def test_unknown_resources_and_methods(api, ais):
    fid = int(ais.scan(columns=["object_id"])["object_id"][0])
    assert_problem(api.get("/collections/nope/items"), 404, "no collection 'nope'")
    assert_problem(api.get("/collections/ais/items/12345"), 404, "no moving feature 12345")
    assert_problem(api.get("/collections/ais/items/not-a-number"), 404)
    assert_problem(api.get("/collections/ais/items/12345/tgsequence"), 404)
    assert_problem(api.get(f"/collections/ais/items/{fid}/tgsequence/99/velocity"), 404, "no temporal geometry")
    assert_problem(api.get(f"/collections/ais/items/{fid}/tgsequence/x/distance"), 404)
    assert_problem(api.get(f"/collections/ais/items/{fid}/tproperties/sog"), 404, "no temporal property")
    assert_problem(api.put("/collections/ais/items"), 405)
    assert_problem(api.patch(f"/collections/ais/items/{fid}"), 405)
    assert_problem(api.delete(f"/collections/ais/items/{fid}/tgsequence"), 405)


def test_a_posted_feature_reads_back_identically(api, fleet):
    posted = _feature("aurora", n=4)
    resp = api.post(f"/collections/{fleet}/items", json=posted)
    assert resp.status_code == 201, resp.text
    url = f"{api.base_url}/collections/{fleet}/items/aurora"
    assert resp.headers["location"] == url and resp.content == b""
    got = api.get(url).json()
    for member in ("type", "id", "crs", "trs", "properties", "temporalGeometry", "temporalProperties"):
        assert got[member] == posted[member], member
    assert got["bbox"] == [-74.0, 40.6, -74.0, 40.603] and got["time"] == ["2024-05-01T10:00:00Z", "2024-05-01T10:00:30Z"]
    # a track with a gap longer than max_gap comes back as a MovingGeometryCollection, and reads back the same too
    gappy = _feature("borealis", n=6, gap_after=3)
    times, coords = gappy["temporalGeometry"]["datetimes"], gappy["temporalGeometry"]["coordinates"]
    gappy["temporalGeometry"] = {"type": "MovingGeometryCollection", "prisms": [
        _moving_point(times[:4], coords[:4]), _moving_point(times[4:], coords[4:])]}
    assert api.post(f"/collections/{fleet}/items", json=gappy).status_code == 201
    got = api.get(f"/collections/{fleet}/items/borealis").json()
    assert got["temporalGeometry"] == gappy["temporalGeometry"] and got["temporalProperties"] == gappy["temporalProperties"]


def test_a_feature_collection_is_stored_all_or_nothing(api, fleet):
    one, two = _feature("c1", n=3), _feature("c2", n=3, lat0=40.7)
    resp = api.post(f"/collections/{fleet}/items", json={"type": "FeatureCollection", "features": [one, two]})
    assert resp.status_code == 201
    base = f"{api.base_url}/collections/{fleet}/items"
    assert resp.headers["locations"] == f"{base}/c1, {base}/c2" and resp.headers["location"] == f"{base}/c1"
    bad = _feature("c3", n=3)
    bad["temporalProperties"][0]["sog"]["values"][1] = "fast"
    body = {"type": "FeatureCollection", "features": [_feature("c4", n=3), bad]}
    assert_problem(api.post(f"/collections/{fleet}/items", json=body), 422, "features[1].temporalProperties[0].sog.values")
    assert_problem(api.get(f"{base}/c4"), 404)  # nothing of the batch was stored


@pytest.mark.parametrize("change, detail", [
    ({"type": "Point"}, 'type: must be "Feature"'),
    ({"temporalGeometry": None}, "temporalGeometry"),
    ({"temporalGeometry": {"type": "MovingPolygon"}}, "MovingPolygon is not supported"),
    ({"temporalGeometry": {"type": "MovingPoint", "datetimes": ["2024-05-01T10:00:00Z", "yesterday"],
                           "coordinates": [[0, 0], [0, 1]]}}, "temporalGeometry.datetimes[1]"),
    ({"temporalGeometry": {"type": "MovingPoint", "datetimes": ["2024-05-01T10:00:00Z"],
                           "coordinates": [[0, 100]]}}, "temporalGeometry.coordinates[0]"),
    ({"temporalProperties": [{"datetimes": ["2024-05-01T10:00:00Z"], "draught": {"type": "Measure", "values": [1]}}]},
     "no temporal property 'draught'"),
    ({"temporalProperties": [{"datetimes": ["2024-05-01T11:00:00Z"], "sog": {"type": "Measure", "values": [1]}}]},
     "does not cover"),
    ({"crs": {"type": "Name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}}, "crs"),
    ({"id": "a/b"}, "id"),
    ({"properties": {"bad": float("inf")}}, "properties"),
])
def test_bad_moving_features_are_422_naming_the_member(api, fleet, change, detail):
    body = json.dumps({**_feature("bad"), **change})  # Python writes Infinity, which the server's parser reads
    resp = api.post(f"/collections/{fleet}/items", content=body, headers={"content-type": "application/json"})
    assert_problem(resp, 422, detail)


def test_empty_and_non_object_bodies_are_422(api, fleet):
    assert_problem(api.post(f"/collections/{fleet}/items"), 422)
    assert_problem(api.post(f"/collections/{fleet}/items", json=[1, 2]), 422, "MovingFeature")
    assert_problem(api.post(f"/collections/{fleet}/items", json={"type": "FeatureCollection", "features": []}),
                   422, "features")


def test_deleting_a_feature_removes_it(api, fleet):
    assert api.post(f"/collections/{fleet}/items", json=_feature("doomed")).status_code == 201
    assert api.delete(f"/collections/{fleet}/items/doomed").status_code == 204
    assert_problem(api.get(f"/collections/{fleet}/items/doomed"), 404)
    assert_problem(api.delete(f"/collections/{fleet}/items/doomed"), 404)


# ---------------------------------------------------------------- temporal geometry


def _gappy_feature(ais):
    """A demo feature whose track has several temporal primitives."""
    for fid in np.unique(ais.scan(columns=["object_id"])["object_id"]).tolist():
        t = ais.track(fid)["t"].view(np.int64)
        if (np.diff(t) > GAP_S * 10**9).sum() >= 3:
            return fid, ais.track(fid)
    raise AssertionError("no demo feature with gaps")


def test_the_tgsequence_cuts_the_track_at_gaps_longer_than_max_gap(api, ais):
    fid, track = _gappy_feature(ais)
    t = track["t"].view(np.int64)
    seq, sizes, last = _pages(api, f"/collections/ais/items/{fid}/tgsequence", {"limit": 2}, "geometrySequence")
    assert last["type"] == "TemporalGeometrySequence" and RFC3339.match(last["timeStamp"])
    assert [g["id"] for g in seq] == [str(i) for i in range(len(seq))]
    assert len(seq) == 1 + (np.diff(t) > GAP_S * 10**9).sum() == last["numberMatched"] and set(sizes[:-1]) == {2}
    times = [d for g in seq for d in g["datetimes"]]
    assert times == [str(v)[:19] + "Z" for v in track["t"]]
    assert [c for g in seq for c in g["coordinates"]] == np.column_stack([track["x"], track["y"]]).tolist()
    for g in seq:
        assert g["type"] == "MovingPoint" and g["interpolation"] == "Linear" and g["crs"] == CRS84 and g["trs"] == TRS
        inner = np.diff(np.array([d[:-1] for d in g["datetimes"]], dtype="datetime64[s]")).astype(np.int64)
        assert (inner <= GAP_S).all()


def test_tgsequence_selection_leaf_and_sub_trajectory(api, ais):
    fid, track = _gappy_feature(ais)
    url = f"/collections/ais/items/{fid}/tgsequence"
    everything = api.get(url, params={"limit": 1000}).json()["geometrySequence"]
    second = everything[1]
    d0, d1 = second["datetimes"][0], second["datetimes"][-1]
    picked = api.get(url, params={"datetime": f"{d0}/{d1}"}).json()
    assert [g["id"] for g in picked["geometrySequence"]] == ["1"] and picked["geometrySequence"][0] == second
    x, y = second["coordinates"][0]
    box = f"{x - 1e-6},{y - 1e-6},{x + 1e-6},{y + 1e-6}"
    assert "1" in [g["id"] for g in api.get(url, params={"bbox": box, "limit": 1000}).json()["geometrySequence"]]
    if len(second["datetimes"]) >= 2:
        a, b = (np.datetime64(d[:-1], "s") for d in second["datetimes"][:2])
        mid = str(a + (b - a) // 2) + "Z"
        leaf = api.get(url, params={"leaf": f"{d0},{mid}"}).json()["geometrySequence"]
        assert [g["id"] for g in leaf] == ["1"] and leaf[0]["datetimes"] == [d0, mid]
        (p0, p1), (q0, q1) = second["coordinates"][:2]
        f = float((np.datetime64(mid[:-1]) - a) / (b - a))
        assert leaf[0]["coordinates"][0] == second["coordinates"][0]
        assert leaf[0]["coordinates"][1] == pytest.approx([p0 + f * (q0 - p0), p1 + f * (q1 - p1)])
        sub = api.get(url, params={"datetime": f"{mid}/{d1}", "subTrajectory": "true"}).json()["geometrySequence"]
        assert sub[0]["id"] == "1" and sub[0]["datetimes"] == [mid] + second["datetimes"][1:]
        assert sub[0]["coordinates"][0] == leaf[0]["coordinates"][1]
    assert_problem(api.get(url, params={"leaf": d0, "subTrajectory": "true", "datetime": f"{d0}/{d1}"}), 400,
                   "cannot be used together")
    assert_problem(api.get(url, params={"leaf": f"{d1},{d0}"}), 400, "increasing")
    assert_problem(api.get(url, params={"leaf": "noon"}), 400, "leaf")


def test_positions_are_added_after_the_last_sample(api, fleet):
    assert api.post(f"/collections/{fleet}/items", json=_feature("ext", n=3)).status_code == 201
    url = f"/collections/{fleet}/items/ext/tgsequence"
    soon = _moving_point(*_track(2, start="2024-05-01T10:01:00", lat0=40.61))
    resp = api.post(url, json=soon)
    assert resp.status_code == 201 and resp.headers["location"] == f"{api.base_url}{url}/0"  # within max_gap
    later = _moving_point(*_track(2, start="2024-05-01T12:00:00", lat0=40.62))
    resp = api.post(url, json=later)
    assert resp.status_code == 201 and resp.headers["location"] == f"{api.base_url}{url}/1"  # a new primitive
    seq = api.get(url).json()["geometrySequence"]
    assert [len(g["datetimes"]) for g in seq] == [5, 2] and seq[1]["datetimes"] == later["datetimes"]
    assert_problem(api.post(url, json=soon), 409, "after the feature's last sample")
    assert_problem(api.post(url, json={"type": "MovingPoint", "datetimes": []}), 422, "datetimes")
    assert_problem(api.post(url, json={**later, "interpolation": "Step"}), 422, "interpolation")
    assert_problem(api.post(f"/collections/{fleet}/items/nobody/tgsequence", json=later), 404)


def test_distance_velocity_and_acceleration_of_a_temporal_geometry(api, fleet):
    assert api.post(f"/collections/{fleet}/items", json=_feature("runner", n=5)).status_code == 201
    url = f"/collections/{fleet}/items/runner/tgsequence/0"
    times = _track(5)[0]
    dist = api.get(url + "/distance").json()
    assert dist["name"] == "distance" and dist["type"] == "TReal" and dist["form"] == "MTR"
    (seq,) = dist["valueSequence"]
    assert seq["datetimes"] == times and seq["interpolation"] == "Linear"
    assert seq["values"] == pytest.approx([i * STEP_M for i in range(5)], rel=1e-6)
    vel = api.get(url + "/velocity").json()
    assert vel["form"] == "MTS" and vel["valueSequence"][0]["interpolation"] == "Step"
    assert vel["valueSequence"][0]["values"] == pytest.approx([STEP_M / 10] * 5, rel=1e-6)
    acc = api.get(url + "/acceleration").json()
    assert acc["form"] == "MSK" and acc["valueSequence"][0]["values"] == pytest.approx([0] * 5, abs=1e-9)
    # datetime keeps values inside, leaf reads the curve, subTemporalValue clips with interpolated ends
    part = api.get(url + "/distance", params={"datetime": f"{times[1]}/{times[2]}"}).json()["valueSequence"][0]
    assert part["datetimes"] == times[1:3]
    leaf = api.get(url + "/distance", params={"leaf": "2024-05-01T10:00:05Z"}).json()["valueSequence"][0]
    assert leaf["values"] == pytest.approx([STEP_M / 2], rel=1e-6)
    sub = api.get(url + "/distance", params={"datetime": "2024-05-01T10:00:05Z/2024-05-01T10:00:15Z",
                                             "subTemporalValue": "true"}).json()["valueSequence"][0]
    assert sub["datetimes"] == ["2024-05-01T10:00:05Z", times[1], "2024-05-01T10:00:15Z"]
    assert sub["values"] == pytest.approx([STEP_M / 2, STEP_M, 1.5 * STEP_M], rel=1e-6)
    assert api.get(url + "/velocity", params={"datetime": "2030-01-01T00:00:00Z"}).json()["valueSequence"] == []
    assert_problem(api.get(url + "/velocity", params={"subTemporalValue": "true"}), 400, "bounded")


# ---------------------------------------------------------------- temporal properties


def test_temporal_properties_are_listed_and_clipped(api, fleet):
    assert api.post(f"/collections/{fleet}/items", json=_feature("props", n=4)).status_code == 201
    url = f"/collections/{fleet}/items/props/tproperties"
    body = api.get(url).json()
    assert body["numberMatched"] == body["numberReturned"] == 3 and RFC3339.match(body["timeStamp"])
    sog, status, moored = body["temporalProperties"]
    assert sog == {"name": "sog", "type": "TReal", "form": "KNT", "description": "speed over ground",
                   "links": [{"href": f"{api.base_url}{url}/sog", "rel": "self", "type": "application/json"}]}
    assert status["name"] == "status" and status["type"] == "TInteger" and "valueSequence" not in status
    assert moored["name"] == "moored" and moored["type"] == "TBoolean"
    first, sizes, _ = _pages(api, url, {"limit": 1}, "temporalProperties")
    assert [p["name"] for p in first] == ["sog", "status", "moored"] and sizes == [1, 1, 1]
    clipped = api.get(url, params={"datetime": "2024-05-01T10:00:05Z/2024-05-01T10:00:10Z",
                                   "subTemporalValue": "true"}).json()["temporalProperties"]
    assert clipped == [
        {"datetimes": ["2024-05-01T10:00:05Z", "2024-05-01T10:00:10Z"],
         "sog": {"type": "Measure", "values": [2.0, 2.5], "interpolation": "Linear", "form": "KNT"}},
        {"datetimes": ["2024-05-01T10:00:05Z", "2024-05-01T10:00:10Z"],
         "status": {"type": "Measure", "values": [0, 1], "interpolation": "Step"}},
        {"datetimes": ["2024-05-01T10:00:05Z", "2024-05-01T10:00:10Z"],
         "moored": {"type": "Text", "values": [False, True], "interpolation": "Step"}}]
    assert api.get(url, params={"datetime": "2030-01-01T00:00:00Z"}).json()["temporalProperties"] == []


def test_one_temporal_property_with_leaf_sub_values_and_paging(api, fleet):
    gappy = _feature("runs", n=6, gap_after=3)
    assert api.post(f"/collections/{fleet}/items", json=gappy).status_code == 201
    url = f"/collections/{fleet}/items/runs/tproperties/sog"
    times = gappy["temporalGeometry"]["datetimes"]
    body = api.get(url).json()
    assert body["name"] == "sog" and body["type"] == "TReal" and body["form"] == "KNT"
    assert body["valueSequence"] == [{"datetimes": times[:4], "values": [1.5, 2.5, 3.5, 4.5], "interpolation": "Linear"},
                                     {"datetimes": times[4:], "values": [5.5, 6.5], "interpolation": "Linear"}]
    runs, sizes, _ = _pages(api, url, {"limit": 1}, "valueSequence")
    assert runs == body["valueSequence"] and sizes == [1, 1]
    leaf = api.get(url, params={"leaf": f"2024-05-01T10:00:05Z,2024-05-01T10:05:00Z,{times[4]}"}).json()
    assert leaf["valueSequence"] == [{"datetimes": ["2024-05-01T10:00:05Z"], "values": [2.0], "interpolation": "Linear"},
                                     {"datetimes": [times[4]], "values": [5.5], "interpolation": "Linear"}]
    status = api.get(f"/collections/{fleet}/items/runs/tproperties/status",
                     params={"leaf": "2024-05-01T10:00:15Z"}).json()["valueSequence"]
    assert status == [{"datetimes": ["2024-05-01T10:00:15Z"], "values": [1], "interpolation": "Step"}]
    picked = api.get(url, params={"datetime": f"{times[4]}/.."}).json()["valueSequence"]
    assert picked == body["valueSequence"][1:]
    assert_problem(api.get(url, params={"leaf": times[0], "subTemporalValue": "true"}), 400, "cannot be used together")
    assert_problem(api.get(f"/collections/{fleet}/items/runs/tproperties/draught"), 404, "no temporal property")


def test_temporal_property_values_are_added_at_existing_and_new_instants(api, fleet):
    assert api.post(f"/collections/{fleet}/items", json=_feature("upd", n=3)).status_code == 201
    base = f"/collections/{fleet}/items/upd"
    times = _track(3)[0]
    body = [{"datetimes": [times[1], "2024-05-01T10:00:15Z"],
             "sog": {"type": "Measure", "values": [9.0, 9.5], "interpolation": "Linear"}}]
    resp = api.post(base + "/tproperties", json=body)
    assert resp.status_code == 201 and resp.headers["location"] == f"{api.base_url}{base}/tproperties/sog"
    sog = api.get(base + "/tproperties/sog").json()["valueSequence"][0]
    assert sog["datetimes"] == [times[0], times[1], "2024-05-01T10:00:15Z", times[2]]
    assert sog["values"] == [1.5, 9.0, 9.5, 3.5]
    status = api.get(base + "/tproperties/status").json()["valueSequence"][0]
    assert status["values"] == [0, 1, 0, 2]  # the existing sample kept its status; the new instant has none (0)
    moored = api.get(base + "/tproperties/moored").json()["valueSequence"][0]
    assert moored["values"] == [False, True, False, False]
    geom = api.get(base + "/tgsequence").json()["geometrySequence"][0]
    assert geom["datetimes"][2] == "2024-05-01T10:00:15Z" and geom["coordinates"][2] == pytest.approx([-74.0, 40.6015])
    assert_problem(api.post(base + "/tproperties", json=[{"datetimes": ["2024-05-01T09:00:00Z"],
                                                          "sog": {"type": "Measure", "values": [1]}}]),
                   422, "does not cover")
    assert_problem(api.post(base + "/tproperties", json={"name": "sog", "type": "TInteger", "valueSequence": []}),
                   422, "TReal")
    # one property: values appended after its last one, as the standard asks
    later = {"datetimes": [times[2]], "values": [1.0], "interpolation": "Linear"}
    assert_problem(api.post(base + "/tproperties/sog", json=later), 409, "after the last value")
    assert_problem(api.post(base + "/tproperties/sog", json={**later, "interpolation": "Step"}), 422, "interpolation")
    assert_problem(api.post(base + "/tproperties/draught", json=later), 404)
    assert api.post(base + "/tgsequence", json=_moving_point(*_track(2, start="2024-05-01T10:00:40",
                                                                     lat0=40.603))).status_code == 201
    resp = api.post(base + "/tproperties/sog", json={**later, "datetimes": ["2024-05-01T10:00:45Z"]})
    assert resp.status_code == 201
    assert api.get(base + "/tproperties/sog").json()["valueSequence"][0]["values"][-1] == 1.0


# ---------------------------------------------------------------- region and time limited grants


def test_a_partner_sees_and_writes_only_its_region_and_period(srv, api, ais):
    def cli(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "chronotope.cli", *args, "--store", srv.store], input=stdin,
                              capture_output=True, text=True, timeout=120)

    box = (-74.1, 40.6, -74.0, 40.7)
    window = ("2020-12-02T00:00:00Z", "2020-12-04T00:00:00Z")
    assert cli("user", "add", "partner", "--role", "reader", stdin="partner-password\n").returncode == 0
    granted = cli("user", "grant", "partner", "--role", "writer", "--collection", "ais",
                  "--bbox=" + ",".join(map(str, box)), "--time", "/".join(window))
    assert granted.returncode == 0, granted.stderr
    with srv.client(srv.token("partner", "partner-password")) as partner:
        features, _, last = _pages(partner, "/collections/ais/items", {"limit": 50}, "features")
        inside = ais.query(bbox=box, time=(np.datetime64(window[0][:-1]), np.datetime64(window[1][:-1])),
                           columns=["object_id"])["object_id"]
        assert [f["id"] for f in features] == np.unique(inside).tolist() and last["numberMatched"] == len(features)
        for f in features:
            x0, y0, x1, y1 = f["bbox"]
            assert box[0] <= x0 <= x1 <= box[2] and box[1] <= y0 <= y1 <= box[3]
            assert window[0] <= f["time"][0] <= f["time"][1] <= window[1]
        outside = sorted(set(np.unique(ais.scan(columns=["object_id"])["object_id"]).tolist()) - set(inside.tolist()))
        assert_problem(partner.get(f"/collections/ais/items/{outside[0]}"), 404)
        seq = partner.get(f"/collections/ais/items/{features[0]['id']}/tgsequence", params={"limit": 1000}).json()
        coords = np.array([c for g in seq["geometrySequence"] for c in g["coordinates"]])
        assert ((coords[:, 0] >= box[0]) & (coords[:, 0] <= box[2]) & (coords[:, 1] >= box[1])
                & (coords[:, 1] <= box[3])).all()
        # writes: inside the region and period only
        mine = {"type": "Feature", "id": 990000001, "temporalGeometry": _moving_point(
            ["2020-12-03T00:00:00Z", "2020-12-03T00:00:10Z"], [[-74.05, 40.65], [-74.05, 40.651]])}
        assert partner.post("/collections/ais/items", json=mine).status_code == 201
        far = {**mine, "id": 990000002, "temporalGeometry": _moving_point(
            ["2020-12-03T00:00:00Z", "2020-12-03T00:00:10Z"], [[-73.5, 40.65], [-73.5, 40.651]])}
        assert_problem(partner.post("/collections/ais/items", json=far), 403, "outside the region")
        late = {**mine, "id": 990000003, "temporalGeometry": _moving_point(
            ["2020-12-05T00:00:00Z", "2020-12-05T00:00:10Z"], [[-74.05, 40.65], [-74.05, 40.651]])}
        assert_problem(partner.post("/collections/ais/items", json=late), 403)
        assert_problem(partner.delete(f"/collections/ais/items/{features[0]['id']}"), 403)  # not all of it is theirs
        assert partner.delete("/collections/ais/items/990000001").status_code == 204
        assert_problem(partner.post("/collections", json={"id": "mine", "itemType": "movingfeature"}), 403)
