"""MF-JSON (OGC 19-045r3) decoding and encoding: arrays <-> MovingFeature documents, member by member."""

import numpy as np
import pytest

pytest.importorskip("fastapi")
from chronotope_api import mfjson  # noqa: E402 - after the skip: the server extra may be absent
from chronotope_api.mfjson import MFJSONError, PropertySpec  # noqa: E402
from chronotope_api.params import instant  # noqa: E402

SPECS = {
    "sog": PropertySpec("sog", np.dtype("float32"), "Linear", form="KNT", description="speed over ground"),
    "status": PropertySpec("status", np.dtype("int16"), "Step"),
    "moored": PropertySpec("moored", np.dtype("bool"), "Step"),
}

FEATURE = {
    "type": "Feature",
    "id": "ship-1",
    "crs": {"type": "Name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    "trs": {"type": "Link", "properties": {"type": "OGCDEF", "href": mfjson.GREGORIAN}},
    "properties": {"name": "Aurora", "flag": "NO"},
    "temporalGeometry": {
        "type": "MovingPoint",
        "datetimes": ["2020-12-01T04:00:00Z", "2020-12-01T04:00:10.5Z", "2020-12-01T05:00:20+01:00"],
        "coordinates": [[-74.01, 40.70], [-74.02, 40.71], [-74.03, 40.72]],
        "interpolation": "Linear",
    },
    "temporalProperties": [{
        "datetimes": ["2020-12-01T04:00:00Z", "2020-12-01T04:00:20Z"],
        "sog": {"type": "Measure", "values": [12.3, None], "interpolation": "Linear", "form": "KNT"},
        "status": {"type": "Measure", "values": [0, 5], "interpolation": "Step"},
    }],
}


def _decode(obj, **kw):
    return mfjson.decode_features(obj, SPECS, crs=kw.get("crs", "EPSG:4326"), has_z=kw.get("has_z", False))


def test_rfc3339_date_times_parse_exactly_to_nanoseconds():
    texts = ["2020-12-01T04:00:00Z", "2020-12-01t04:00:00.123456789z", "2020-12-01 05:30:00+01:30",
             "1970-01-01T00:00:00.5-00:00", "2262-04-11T23:47:16Z"]
    got = mfjson.parse_datetimes(texts)
    assert got.tolist() == [instant(s) for s in texts]
    assert mfjson.parse_datetimes([1465621816590, 1465711526300.5]).tolist() == [1465621816590 * 10**6,
                                                                                   1465711526300500000]


@pytest.mark.parametrize("bad, where", [
    (["2020-12-01T04:00:00Z", "2020-12-01"], "[1]"),
    (["2020-12-01T04:00:00"], "[0]"),  # no zone
    (["2020-13-01T04:00:00Z"], "[0]"),
    (["2020-02-30T04:00:00Z"], "[0]"),
    (["2020-12-01T04:00:00.Z"], "[0]"),
    (["2020-12-01T04:00:00.1234567890Z"], "[0]"),
    (["2020-12-01T04:00:00+25:00"], "[0]"),
    (["2020-12-01T04:00:00Zé"], "[0]"),
    (["3000-01-01T00:00:00Z"], "[0]"),
    ([], ""),
    (["2020-12-01T04:00:00Z", 5], ""),
    ([True], ""),
    ("2020-12-01T04:00:00Z", ""),
])
def test_bad_date_times_name_the_element(bad, where):
    with pytest.raises(MFJSONError) as err:
        mfjson.parse_datetimes(bad, "datetimes")
    assert str(err.value).startswith("datetimes" + where + ":")


def test_a_moving_feature_decodes_to_arrays():
    (f,) = _decode(FEATURE)
    assert f.id == "ship-1" and f.properties == {"name": "Aurora", "flag": "NO"} and f.has_properties
    assert f.t.tolist() == [instant("2020-12-01T04:00:00Z"), instant("2020-12-01T04:00:10.5Z"),
                            instant("2020-12-01T04:00:20Z")]
    assert f.x.tolist() == [-74.01, -74.02, -74.03] and f.y.tolist() == [40.70, 40.71, 40.72] and f.z is None
    t, sog = f.values["sog"]
    assert t.tolist() == [f.t[0], f.t[2]] and sog.dtype == np.float32 and np.isnan(sog[1]) and sog[0] == np.float32(12.3)
    assert f.values["status"][1].dtype == np.int16 and f.values["status"][1].tolist() == [0, 5]


def test_a_feature_collection_and_a_geometry_collection_decode():
    second = {**FEATURE, "id": 7, "crs": None, "temporalProperties": None, "properties": None,
              "temporalGeometry": {"type": "MovingGeometryCollection", "prisms": [
                  {"type": "MovingPoint", "datetimes": ["2020-12-01T04:00:00Z"], "coordinates": [[1, 2, 3]]},
                  {"type": "MovingPoint", "datetimes": ["2020-12-01T06:00:00Z", "2020-12-01T06:00:01Z"],
                   "coordinates": [[1.5, 2.5, 3.5], [1.6, 2.6, 3.6]]}]}}
    first = {k: v for k, v in FEATURE.items() if k != "crs"}
    a, b = _decode({"type": "FeatureCollection", "crs": FEATURE["crs"], "features": [first, second]}, has_z=True)
    assert a.id == "ship-1" and b.id == 7 and not b.has_properties and b.values == {}
    assert b.x.tolist() == [1, 1.5, 1.6] and b.z.tolist() == [3, 3.5, 3.6]


@pytest.mark.parametrize("change, where", [
    ({"type": "Point"}, "type"),
    ({"id": True}, "id"),
    ({"id": ""}, "id"),
    ({"temporalGeometry": None}, "temporalGeometry"),
    ({"temporalGeometry": {"type": "MovingPolygon"}}, "temporalGeometry.type"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "interpolation": "Step"}}, "temporalGeometry.interpolation"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "coordinates": [[0, 0]]}}, "temporalGeometry.coordinates"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "coordinates": [[0, 0], [0, "1"], [0, 0]]}},
     "temporalGeometry.coordinates"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "coordinates": [[0, 0], [0, 0, 1], [0, 0]]}},
     "temporalGeometry.coordinates"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "coordinates": [[0, 0], [181, 0], [0, 0]]}},
     "temporalGeometry.coordinates[1]"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "coordinates": [[0, 0], [0, float("nan")], [0, 0]]}},
     "temporalGeometry.coordinates[1]"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "coordinates": [[0, 0, 1]] * 3}},
     "temporalGeometry.coordinates"),  # no heights in this collection
    ({"temporalGeometry": {**FEATURE["temporalGeometry"], "base": {"type": "glTF", "href": "x"}}},
     "temporalGeometry.base"),
    ({"temporalGeometry": {**FEATURE["temporalGeometry"],
                           "datetimes": ["2020-12-01T04:00:00Z", "2020-12-01T04:00:00Z", "2020-12-01T04:00:01Z"]}},
     "temporalGeometry.datetimes[1]"),
    ({"crs": {"type": "Name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}}, "crs"),
    ({"trs": {"type": "Name", "properties": {"name": "urn:julian"}}}, "trs"),
    ({"properties": ["not", "an", "object"]}, "properties"),
    ({"temporalProperties": {"not": "an array"}}, "temporalProperties"),
    ({"temporalProperties": [{**FEATURE["temporalProperties"][0], "draught": {"type": "Measure", "values": [1, 2]}}]},
     "temporalProperties[0].draught"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"], "sog": {"type": "Text", "values": [1]}}]},
     "temporalProperties[0].sog.type"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"], "sog": {"type": "Measure", "values": [1, 2]}}]},
     "temporalProperties[0].sog.values"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"],
                              "sog": {"type": "Measure", "values": [1], "interpolation": "Step"}}]},
     "temporalProperties[0].sog.interpolation"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"],
                              "sog": {"type": "Measure", "values": [1], "form": "KMH"}}]},
     "temporalProperties[0].sog.form"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"], "status": {"type": "Measure", "values": [1.5]}}]},
     "temporalProperties[0].status.values"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"],
                              "status": {"type": "Measure", "values": [70000]}}]},
     "temporalProperties[0].status.values[0]"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"], "moored": {"type": "Text", "values": [1]}}]},
     "temporalProperties[0].moored.values"),
    ({"temporalProperties": [{"datetimes": ["2020-12-01T04:00:00Z"], "sog": {"type": "Measure", "values": [1]}},
                             {"datetimes": ["2020-12-01T04:00:00Z"], "sog": {"type": "Measure", "values": [2]}}]},
     "temporalProperties"),
])
def test_bad_features_are_refused_naming_the_member(change, where):
    with pytest.raises(MFJSONError) as err:
        _decode({**FEATURE, **change})
    assert str(err.value).split(":")[0] == where, str(err.value)


def test_feature_collections_must_hold_features():
    for body, where in (({"type": "FeatureCollection", "features": []}, "features"),
                        ({"type": "FeatureCollection", "features": [1]}, "features[0]"), ([], "")):
        with pytest.raises(MFJSONError) as err:
            _decode(body)
        assert err.value.where == where


def test_crs_and_trs_members_name_the_collection_reference_systems():
    assert mfjson.crs_member("EPSG:4326") == {"type": "Name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert mfjson.crs_member("EPSG:32618") == {"type": "Name", "properties": {"name": "urn:ogc:def:crs:EPSG::32618"}}
    assert mfjson.trs_member() == {"type": "Link", "properties": {"type": "OGCDEF", "href": mfjson.GREGORIAN}}
    mfjson.check_crs({"type": "Link", "properties": {"href": mfjson.CRS84, "type": "ogcwkt"}}, "EPSG:4326")
    mfjson.check_crs({"type": "Name", "properties": {"name": "EPSG:32618"}}, "EPSG:32618")
    with pytest.raises(MFJSONError, match="default CRS84 does not apply"):
        mfjson.check_crs(None, "EPSG:32618")
    mfjson.check_trs({"type": "Name", "properties": {"name": "urn:ogc:data:time:iso8601"}})


def test_encoding_a_track_gives_moving_points_with_rfc3339_datetimes():
    t = np.array([instant("2020-12-01T04:00:00Z"), instant("2020-12-01T04:00:10.5Z"), instant("2020-12-01T09:00:00Z")])
    x, y = np.array([-74.01, -74.02, -74.03]), np.array([40.7, 40.71, 40.72])
    assert mfjson.moving_point(t[:2], x[:2], y[:2], id="0") == {
        "id": "0", "type": "MovingPoint", "datetimes": ["2020-12-01T04:00:00Z", "2020-12-01T04:00:10.5Z"],
        "coordinates": [[-74.01, 40.7], [-74.02, 40.71]], "interpolation": "Linear"}
    geom = mfjson.temporal_geometry(t, x, y, np.array([1.0, 2.0, 3.0]), np.array([0, 2]))
    assert geom["type"] == "MovingGeometryCollection" and len(geom["prisms"]) == 2
    assert geom["prisms"][1]["coordinates"] == [[-74.03, 40.72, 3.0]]
    assert mfjson.temporal_geometry(t, x, y, np.array([1.0, np.nan, 3.0]), np.array([0]))["coordinates"][0] == [-74.01, 40.7]


def test_encoding_temporal_properties_groups_those_with_the_same_instants():
    t = np.array([0, 10**9, 2 * 10**9])
    cols = {"sog": np.array([12.3, np.nan, 1.5], dtype=np.float32), "status": np.array([1, 2, 3], dtype=np.int16),
            "moored": np.array([True, False, False])}
    out = mfjson.parametric_values(t, cols, SPECS)
    assert out == [
        {"datetimes": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:02Z"],
         "sog": {"type": "Measure", "values": [12.3, 1.5], "interpolation": "Linear", "form": "KNT",
                 "description": "speed over ground"}},
        {"datetimes": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z", "1970-01-01T00:00:02Z"],
         "status": {"type": "Measure", "values": [1, 2, 3], "interpolation": "Step"},
         "moored": {"type": "Text", "values": [True, False, False], "interpolation": "Step"}},
    ]
    assert mfjson.parametric_values(t, {"sog": np.full(3, np.nan, dtype=np.float32)}, SPECS) == []
    assert mfjson.number_list(np.array([np.nan, 2.5])) == [None, 2.5]


def test_decoding_what_was_encoded_gives_the_same_arrays():
    t = np.array([instant("2020-12-01T04:00:00.000000001Z"), instant("2020-12-01T04:00:10Z")])
    x, y = np.array([-74.0123456789, 179.9]), np.array([40.7, -89.99])
    sog = np.array([0.1, 33.3], dtype=np.float32)
    doc = {"type": "Feature", "id": 1, "temporalGeometry": mfjson.moving_point(t, x, y),
           "temporalProperties": mfjson.parametric_values(t, {"sog": sog}, SPECS)}
    (f,) = _decode(doc)
    assert f.t.tolist() == t.tolist() and f.x.tolist() == x.tolist() and f.y.tolist() == y.tolist()
    assert f.values["sog"][1].tolist() == sog.tolist()


def test_temporal_property_bodies_in_both_forms():
    api = {"name": "sog", "type": "TReal", "valueSequence": [
        {"datetimes": ["2020-12-01T04:00:00Z"], "values": [1.0], "interpolation": "Linear"},
        {"datetimes": ["2020-12-01T05:00:00Z", "2020-12-01T05:00:01Z"], "values": [2.0, 3.0],
         "interpolation": "Linear"}]}
    got = mfjson.decode_temporal_properties([api], SPECS)
    assert got["sog"][1].tolist() == [1.0, 2.0, 3.0]
    got = mfjson.decode_temporal_properties(FEATURE["temporalProperties"][0], SPECS)
    assert set(got) == {"sog", "status"}
    with pytest.raises(MFJSONError, match="no temporal property"):
        mfjson.decode_temporal_properties({**api, "name": {}}, SPECS)
    with pytest.raises(MFJSONError, match="TReal"):
        mfjson.decode_temporal_properties({**api, "type": "TInteger"}, SPECS)
    with pytest.raises(MFJSONError, match="interpolation"):
        mfjson.decode_temporal_primitive_value({"datetimes": ["2020-12-01T04:00:00Z"], "values": [1]}, SPECS["sog"])
    assert mfjson.temporal_property(SPECS["status"]) == {"name": "status", "type": "TInteger"}
    assert mfjson.temporal_property(SPECS["moored"], [])["valueSequence"] == []
