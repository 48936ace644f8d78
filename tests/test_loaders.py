"""Tests for chronotope.loaders and chronotope.datasets (numpy only)."""

import gzip
import io

import numpy as np
import pytest

from chronotope import datasets, loaders

NS = 1_000_000_000


def ns(text):
    return int(np.datetime64(text, "ns").astype(np.int64))


def assert_sorted_by_object_time(cols):
    ids, t = cols["object_id"], cols["t"]
    same = ids[1:] == ids[:-1]
    assert np.all((ids[1:] > ids[:-1]) | (same & (t[1:] >= t[:-1])))


def assert_five_decimals(values):
    assert np.array_equal(np.round(values * 1e5) / 1e5, values)


# ---------------------------------------------------------------------------
# Bundled samples (facts verified against tracktable-data 1.7.3.1)
# ---------------------------------------------------------------------------

def test_available_samples():
    assert datasets.available_samples() == ("nyharbor_hour", "nyharbor_week")


def test_unknown_sample_lists_valid_names():
    with pytest.raises(ValueError, match="nyharbor_hour.*nyharbor_week"):
        datasets.load_sample("nope")


def test_week_sample_facts():
    cols = datasets.load_sample("nyharbor_week")
    assert list(cols) == ["object_id", "t", "x", "y", "traj_id"]
    assert cols["object_id"].dtype == np.int64
    assert cols["t"].dtype == np.int64
    assert cols["x"].dtype == np.float64 and cols["y"].dtype == np.float64
    assert cols["traj_id"].dtype == np.int32
    n = 172_679
    assert all(len(v) == n for v in cols.values())
    assert len(np.unique(cols["object_id"])) == 140
    assert np.array_equal(np.unique(cols["traj_id"]), np.arange(513))
    assert cols["t"].min() == ns("2020-12-01T04:49:45")
    assert cols["t"].max() == ns("2020-12-07T23:29:51")
    assert cols["t"].max() - cols["t"].min() == 585_606 * NS  # 162.7 h
    assert np.all(cols["t"] % NS == 0)                        # whole seconds
    assert_five_decimals(cols["x"])
    assert_five_decimals(cols["y"])
    assert cols["x"].min() == -74.32731 and cols["x"].max() == -73.63775
    assert cols["y"].min() == 40.38352 and cols["y"].max() == 40.88176
    assert_sorted_by_object_time(cols)
    # No vessel reports twice at the same second in this file.
    keys = cols["object_id"] * (10 ** 10) + cols["t"] // NS
    assert len(np.unique(keys)) == n
    # First record of the file: line 1, MMSI 367073680.
    hit = ((cols["object_id"] == 367073680)
           & (cols["t"] == ns("2020-12-01T11:31:39")))
    assert hit.sum() == 1
    i = int(np.argmax(hit))
    assert (cols["x"][i], cols["y"][i], cols["traj_id"][i]) == (
        -74.03917, 40.71079, 0)
    # Median step between fixes of one vessel is 70 s.
    same = cols["object_id"][1:] == cols["object_id"][:-1]
    assert np.median(np.diff(cols["t"])[same]) == 70 * NS


def test_hour_sample_facts():
    cols = datasets.load_sample("nyharbor_hour")
    assert list(cols) == [
        "object_id", "t", "x", "y", "sog", "cog", "heading", "vesselname",
        "imo", "callsign", "vesseltype", "status", "length", "width", "draft",
        "cargo", "transcieverclass", "eta"]
    for name in ("sog", "cog", "heading", "vesseltype", "status", "length",
                 "width", "draft", "cargo"):
        assert cols[name].dtype == np.float32, name
    for name in ("vesselname", "imo", "callsign", "transcieverclass", "eta"):
        assert cols[name].dtype.kind == "U", name
    assert cols["object_id"].dtype == np.int64
    assert len(cols["t"]) == 8_689
    assert len(np.unique(cols["object_id"])) == 295
    assert cols["t"].min() == ns("2020-06-30T00:00:00")
    assert cols["t"].max() == ns("2020-06-30T00:59:59")
    assert np.all(cols["t"] % NS == 0)
    assert_five_decimals(cols["x"])
    assert_five_decimals(cols["y"])
    assert_sorted_by_object_time(cols)
    # Quirks kept from the source.
    assert int((cols["heading"] == 511).sum()) == 3_606   # "not available"
    assert int((cols["cog"] < 0).sum()) == 4_463
    assert int(np.isnan(cols["draft"]).sum()) == 5_520    # empty fields
    # Second data line of the file.
    i = int(np.flatnonzero(cols["object_id"] == 367000140)[0])
    assert cols["t"][i] == ns("2020-06-30T00:00:00")
    assert (cols["x"][i], cols["y"][i]) == (-74.07157, 40.64409)
    assert cols["vesselname"][i] == "SAMUEL I NEWHOUSE"
    assert cols["imo"][i] == "IMO7702774"
    assert cols["cog"][i] == np.float32(-60.6)
    assert cols["heading"][i] == 246.0
    assert np.isnan(cols["draft"][i]) and cols["cargo"][i] == 69.0
    # Two (MMSI, time) pairs repeat; the stable sort keeps file order
    # (lines 8683/8684 differ only in ETA).
    keys = cols["object_id"] * (10 ** 10) + cols["t"] // NS
    assert len(keys) - len(np.unique(keys)) == 2
    rep = ((cols["object_id"] == 338131000)
           & (cols["t"] == ns("2020-06-30T00:59:59")))
    assert cols["eta"][rep].tolist() == [
        "2020-06-30T02:42:59", "2020-06-30T17:28:59"]


def test_sample_cache_is_protected():
    first = datasets.load_sample("nyharbor_hour")
    with pytest.raises(ValueError):
        first["x"][0] = 0.0
    first["x"] = None                      # the dict itself is the caller's
    copy = datasets.load_sample("nyharbor_hour", copy=True)
    copy["x"][0] = 0.0
    again = datasets.load_sample("nyharbor_hour")
    assert again["x"] is not None and again["x"][0] != 0.0


# ---------------------------------------------------------------------------
# Hand-written .traj
# ---------------------------------------------------------------------------

TRAJ = (
    "*T*,6f1e4c2a-0000-4000-8000-000000000001,terrestrial,3,0,*P*,"
    "terrestrial,2,1,1,0,"
    "367000001,2020-12-01 00:00:20,-74.00003,40.50003,"
    "367000001,2020-12-01 00:00:00,-74.00001,40.50001,"
    "367000001,2020-12-01 00:00:10,-74.00002,40.50002\n"
    "*T*,terrestrial,2,0,*P*,terrestrial,2,1,1,0,"
    "215000002,2020-11-30 23:59:59,10.25,-20.5,"
    "215000002,2020-12-01 00:00:01,10.5,-20.75\n"
)


def test_read_traj_exact():
    cols = loaders.read_traj(io.StringIO(TRAJ))
    assert list(cols) == ["object_id", "t", "x", "y", "traj_id"]
    assert cols["object_id"].tolist() == [215000002] * 2 + [367000001] * 3
    assert cols["object_id"].dtype == np.int64
    assert cols["t"].tolist() == [
        ns("2020-11-30T23:59:59"), ns("2020-12-01T00:00:01"),
        ns("2020-12-01T00:00:00"), ns("2020-12-01T00:00:10"),
        ns("2020-12-01T00:00:20")]
    assert cols["x"].tolist() == [10.25, 10.5, -74.00001, -74.00002,
                                  -74.00003]
    assert cols["y"].tolist() == [-20.5, -20.75, 40.50001, 40.50002,
                                  40.50003]
    assert cols["traj_id"].tolist() == [1, 1, 0, 0, 0]
    assert cols["traj_id"].dtype == np.int32


def test_read_traj_properties_and_string_ids():
    text = (
        "*T*,terrestrial,2,1,note,2,hello,*P*,terrestrial,2,1,1,3,"
        "altitude,1,dest,2,seen,3,"
        "SKW6244,2013-07-10 00:20:03,-105.29362,39.800988,1200,KDEN,"
        "2013-07-10 00:20:00,"
        "SKW6244,2013-07-10 00:23:07,-105.66094,39.700457,,KDEN,,\n"
        "\n"
        "*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,"
        "007,2013-07-10 00:00:00,1,2\n")
    cols = loaders.read_traj(io.StringIO(text))
    assert cols["object_id"].tolist() == ["007", "SKW6244", "SKW6244"]
    assert cols["object_id"].dtype.kind == "U"
    assert cols["traj_id"].tolist() == [1, 0, 0]   # the blank line is skipped
    alt = cols["altitude"]
    assert alt.dtype == np.float64
    assert np.isnan(alt[0]) and alt[1] == 1200.0 and np.isnan(alt[2])
    assert cols["dest"].tolist() == ["", "KDEN", "KDEN"]
    seen = cols["seen"]
    assert seen.dtype == np.int64
    assert seen[1] == ns("2013-07-10T00:20:00")
    assert seen[0] == seen[2] == np.iinfo(np.int64).min


def test_read_traj_paths_and_gzip(tmp_path):
    plain = tmp_path / "a.traj"
    plain.write_text(TRAJ)
    packed = tmp_path / "a.traj.gz"
    packed.write_bytes(gzip.compress(TRAJ.encode()))
    reference = loaders.read_traj(io.StringIO(TRAJ))
    for source in (plain, str(plain), packed, str(packed),
                   io.BytesIO(gzip.compress(TRAJ.encode())),
                   io.BytesIO(TRAJ.encode())):
        got = loaders.read_traj(source)
        assert list(got) == list(reference)
        for key in reference:
            assert np.array_equal(got[key], reference[key]), (source, key)
    with open(packed, "rb") as handle:
        assert len(loaders.read_traj(handle)["t"]) == 5
    assert len(loaders.read_tracktable(packed)["t"]) == 5
    assert len(loaders.read_tracktable(plain)["t"]) == 5


def test_read_traj_empty():
    cols = loaders.read_traj(io.StringIO("\n"))
    assert list(cols) == ["object_id", "t", "x", "y", "traj_id"]
    assert all(len(v) == 0 for v in cols.values())


# ---------------------------------------------------------------------------
# Hand-written AIS CSV
# ---------------------------------------------------------------------------

CSV = (
    "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,"
    "VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass\n"
    "367000002,2020-06-30T00:00:30,40.1,-74.1,1.5,-60.5,511,TUG TWO,,WDA2,"
    "52,0,30,9,,52,A\n"
    "367000001,2020-06-30T00:00:10,40.00002,-74.00002,,,,FERRY ONE,"
    "IMO1234567,WDA1,60,,94,21,3.5,,B\n"
    "367000001,2020-06-30T00:00:00,40.00001,-74.00001,0.1,10,20,FERRY ONE,"
    "IMO1234567,WDA1,60,0,94,21,3.5,69,B\n"
)


def test_read_ais_csv_exact():
    cols = loaders.read_ais_csv(io.StringIO(CSV))
    assert list(cols) == [
        "object_id", "t", "x", "y", "sog", "cog", "heading", "vesselname",
        "imo", "callsign", "vesseltype", "status", "length", "width", "draft",
        "cargo", "transceiverclass"]
    assert cols["object_id"].tolist() == [367000001, 367000001, 367000002]
    assert cols["object_id"].dtype == np.int64
    assert cols["t"].tolist() == [ns("2020-06-30T00:00:00"),
                                  ns("2020-06-30T00:00:10"),
                                  ns("2020-06-30T00:00:30")]
    assert cols["x"].tolist() == [-74.00001, -74.00002, -74.1]
    assert cols["y"].tolist() == [40.00001, 40.00002, 40.1]
    assert cols["sog"].dtype == np.float32
    np.testing.assert_array_equal(
        cols["sog"], np.array([0.1, np.nan, 1.5], dtype=np.float32))
    np.testing.assert_array_equal(
        cols["heading"], np.array([20, np.nan, 511], dtype=np.float32))
    assert cols["cog"][2] == np.float32(-60.5)
    assert cols["vesselname"].tolist() == ["FERRY ONE", "FERRY ONE",
                                           "TUG TWO"]
    assert cols["imo"].tolist() == ["IMO1234567", "IMO1234567", ""]
    assert cols["transceiverclass"].tolist() == ["B", "B", "A"]


def test_read_ais_csv_quoted_fields_and_extra_columns():
    text = ('LON,LAT,BaseDateTime,mmsi,VesselName,Extra,Note\n'
            '1.5,2.5,2020-06-30 00:00:00,5,"SMITH, JOHN",7,x\n'
            '1.25,2.25,2020-06-30 00:00:01Z,5,"A ""B""",,y\n')
    cols = loaders.read_ais_csv(io.StringIO(text))
    assert cols["vesselname"].tolist() == ["SMITH, JOHN", 'A "B"']
    assert cols["extra"].dtype == np.float32
    assert cols["extra"][0] == 7 and np.isnan(cols["extra"][1])
    assert cols["note"].tolist() == ["x", "y"]
    assert cols["t"].tolist() == [ns("2020-06-30T00:00:00"),
                                  ns("2020-06-30T00:00:01")]


def test_read_ais_csv_gzip_and_dispatch(tmp_path):
    packed = tmp_path / "ais.csv.gz"
    packed.write_bytes(gzip.compress(CSV.encode()))
    plain = tmp_path / "ais.CSV"
    plain.write_text(CSV)
    for got in (loaders.read_ais_csv(packed), loaders.read_tracktable(packed),
                loaders.read_tracktable(plain),
                loaders.read_ais_csv(io.BytesIO(gzip.compress(CSV.encode())))):
        assert got["object_id"].tolist() == [367000001, 367000001, 367000002]
        assert got["x"].tolist() == [-74.00001, -74.00002, -74.1]


def test_read_tracktable_rejects_unknown_extension(tmp_path):
    path = tmp_path / "tracks.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="unsupported file extension"):
        loaders.read_tracktable(path)


# ---------------------------------------------------------------------------
# Bad input: a ValueError naming the file, the line and the problem
# ---------------------------------------------------------------------------

GOOD_LINE = ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,"
             "1,2020-01-01 00:00:00,1.0,2.0")


@pytest.mark.parametrize("bad_line, message", [
    ("*X*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,1,2020-01-01,1,2",
     r"bad header: expected '\*T\*'"),
    ("*T*,terrestrial,many,0,*P*,terrestrial,2,1,1,0,1,2020-01-01,1,2",
     "bad header: the number of points is not an integer"),
    ("*T*,terrestrial,1,0,*Q*,terrestrial,2,1,1,0,1,2020-01-01,1,2",
     r"bad header: expected '\*P\*'"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2",
     "bad header: line ends before the has_object_id flag"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,1,speed",
     "bad header: line ends inside point property declaration 1"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,1,speed,9,1,2020-01-01,1,2,3",
     "bad header: unknown type code 9"),
    ("*T*,terrestrial,2,0,*P*,terrestrial,2,1,1,0,1,2020-01-01,1.0,2.0",
     r"wrong field count: header announces 2 points of 4 fields \(8 fields\),"
     r" found 4"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,1,2020-01-01,1.0",
     "wrong field count"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,1,2020-01-01,east,2.0",
     "coordinate 1 is not a number: 'east'"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,1,2020-01-01,1.0,",
     "coordinate 2 is empty"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,1,yesterday,1.0,2.0",
     "timestamp is not a timestamp: 'yesterday'"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,1,2020-13-01,1.0,2.0",
     "timestamp is not a timestamp: '2020-13-01'"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,,2020-01-01,1.0,2.0",
     "object id is empty"),
    ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,1,speed,1,"
     "1,2020-01-01,1.0,2.0,fast",
     "point property 'speed' is not a number: 'fast'"),
])
def test_read_traj_bad_input(tmp_path, bad_line, message):
    path = tmp_path / "bad.traj"
    path.write_text(GOOD_LINE + "\n" + GOOD_LINE + "\n" + bad_line + "\n")
    with pytest.raises(ValueError, match=message) as info:
        loaders.read_traj(path)
    assert str(info.value).startswith(f"{path}, line 3: ")


def test_read_traj_bad_input_names_stream_line():
    text = "\n" + GOOD_LINE + "\n" + GOOD_LINE.replace("2.0", "north") + "\n"
    with pytest.raises(ValueError, match=r"<stream>, line 3: coordinate 2"):
        loaders.read_traj(io.StringIO(text))


def test_read_traj_conflicting_property_types():
    text = ("*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,1,a,1,"
            "1,2020-01-01,1,2,3\n"
            "*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,1,a,2,"
            "1,2020-01-01,1,2,x\n")
    with pytest.raises(ValueError, match="line 2: bad header: point property"
                                         " 'a' has type 2 here but 1"):
        loaders.read_traj(io.StringIO(text))


HEADER = "MMSI,BaseDateTime,LAT,LON,SOG\n"
ROW = "1,2020-06-30T00:00:00,40.5,-74.5,1.0\n"


@pytest.mark.parametrize("text, line, message", [
    ("", 1, "bad header: the file is empty"),
    ("MMSI,BaseDateTime,LAT,SOG\n" + "1,2020-06-30,40.5,1\n", 1,
     "bad header: missing column"),
    ("MMSI,BaseDateTime,LAT,LON,lat\n", 1,
     "bad header: empty or repeated column"),
    (HEADER + ROW + "1,2020-06-30T00:00:01,40.5,-74.5\n", 3,
     "wrong field count: expected 5 fields as in the header, found 4"),
    (HEADER + ROW + ROW + "1,2020-06-30T00:00:01,40.5,-74.5,1,2\n", 4,
     "wrong field count: expected 5 fields as in the header, found 6"),
    (HEADER + ROW + "1,2020-06-30T00:00:01,40.5,west,1\n", 3,
     "LON is not a number: 'west'"),
    (HEADER + ROW + "1,2020-06-30T00:00:01,,-74.5,1\n", 3, "LAT is empty"),
    (HEADER + ROW + "1,2020-06-30T00:00:01,40.5,-74.5,quick\n", 3,
     "SOG is not a number: 'quick'"),
    (HEADER + ROW + "1,30/06/2020,40.5,-74.5,1\n", 3,
     "BaseDateTime is not a timestamp: '30/06/2020'"),
    (HEADER + ROW + "1,,40.5,-74.5,1\n", 3, "BaseDateTime is empty"),
    (HEADER + ROW + ",2020-06-30T00:00:01,40.5,-74.5,1\n", 3,
     "MMSI is empty"),
    (HEADER + ROW + '1,2020-06-30T00:00:01,40.5,-74.5,"1\n', 3,
     "wrong field count|malformed CSV quoting"),
])
def test_read_ais_csv_bad_input(tmp_path, text, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        loaders.read_ais_csv(path)
    assert str(info.value).startswith(f"{path}, line {line}: ")


def test_corrupt_gzip_and_bad_encoding(tmp_path):
    path = tmp_path / "broken.traj.gz"
    path.write_bytes(gzip.compress(TRAJ.encode())[:40])
    with pytest.raises(ValueError, match="corrupt gzip data"):
        loaders.read_traj(path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + ROW).encode() + b"2,2020-06-30,1,2,\xe9\n")
    with pytest.raises(ValueError, match="line 3: text is not valid UTF-8"):
        loaders.read_ais_csv(latin)


def test_read_traj_properties_missing_on_some_lines_and_name_clash():
    text = (
        "*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,0,"
        "1,2020-01-01 00:00:00,1,2\n"
        "*T*,terrestrial,2,0,*P*,terrestrial,2,1,1,2,x,1,speed,1,"
        "2,2020-01-01 00:00:00,3,4,9.5,1.5,"
        "2,2020-01-01 00:00:01,5,6,,2.5\n"
        "*T*,terrestrial,1,0,*P*,terrestrial,2,1,1,1,speed,1,"
        "3,2020-01-01 00:00:00,7,8,3.5\n")
    cols = loaders.read_traj(io.StringIO(text))
    assert list(cols) == ["object_id", "t", "x", "y", "traj_id", "attr_x",
                          "speed"]
    assert cols["x"].tolist() == [1, 3, 5, 7]
    np.testing.assert_array_equal(cols["attr_x"], [np.nan, 9.5, np.nan,
                                                   np.nan])
    np.testing.assert_array_equal(cols["speed"], [np.nan, 1.5, 2.5, 3.5])
    assert cols["traj_id"].tolist() == [0, 1, 1, 2]


def test_read_ais_csv_blank_lines_keep_line_numbers():
    text = "\n" + HEADER + ROW + "\n  \n" + ROW + "1,bad,40.5,-74.5,1\n\n"
    with pytest.raises(ValueError, match="line 7: BaseDateTime"):
        loaders.read_ais_csv(io.StringIO(text))
    cols = loaders.read_ais_csv(io.StringIO(text.replace("bad", "2020-07-01")))
    assert len(cols["t"]) == 3
    assert cols["t"][-1] == ns("2020-07-01")


def test_read_ais_csv_header_only():
    cols = loaders.read_ais_csv(io.StringIO(HEADER))
    assert list(cols) == ["object_id", "t", "x", "y", "sog"]
    assert all(len(v) == 0 for v in cols.values())
