"""Collection descriptions kept in the manifest, the settings they were created with, and ids in a window."""

import numpy as np
import pytest

import chronotope as ct
from chronotope.errors import ChronotopeError, InvalidArgumentError

T0 = np.datetime64("2024-05-01T00:00:00", "ns")
SEC = np.timedelta64(1, "s")


def test_metadata_is_kept_in_the_manifest_and_survives_reopening(tmp_path):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("ships")
        assert c.metadata == {}
        c.set_metadata({"title": "Ships", "description": "AIS positions", "units": {"sog": "KNT"}})
        got = c.metadata
        got["title"] = "changed by the caller"  # a copy: the stored metadata is not touched
        assert c.metadata["title"] == "Ships"
    with ct.open(tmp_path / "db", readonly=True) as ro:
        assert ro.collection("ships").metadata == {"title": "Ships", "description": "AIS positions",
                                                    "units": {"sog": "KNT"}}
    with ct.open(tmp_path / "db") as db:
        db.collection("ships").set_metadata({"title": "Vessels"})  # replaces, not merges
        assert db.collection("ships").metadata == {"title": "Vessels"}


def test_bad_metadata_is_refused_and_nothing_changes(tmp_path):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("ships")
        c.set_metadata({"title": "Ships"})
        for bad in (["a list"], {1: "non-string key"}, {"x": float("nan")}, {"x": object()}):
            with pytest.raises(InvalidArgumentError):
                c.set_metadata(bad)
        assert c.metadata == {"title": "Ships"}
    with ct.open(tmp_path / "db", readonly=True) as ro:
        with pytest.raises(ChronotopeError, match="read-only"):
            ro.collection("ships").set_metadata({"title": "no"})


def test_creation_settings_are_readable(tmp_path):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("drones", has_z=True, max_gap="90s", partition="6h")
        assert c.has_z and c.max_gap == np.timedelta64(90, "s") and c.partition == np.timedelta64(6, "h")
        d = db.create_collection("plain")
        assert not d.has_z and d.max_gap == np.timedelta64(10, "m") and d.partition == np.timedelta64(1, "D")


def test_ids_lists_each_feature_with_samples_in_the_window_once_in_id_order(tmp_path):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("ships")
        # string ids keep their first-write order; each feature has samples on two days
        ids = np.array(["zulu", "alpha", "mike", "zulu", "alpha", "mike"])
        t = np.array([T0, T0, T0, T0 + 86_400 * SEC, T0 + 86_400 * SEC, T0 + 86_400 * SEC])
        x = np.array([1.0, 2.0, 3.0, 1.5, 20.0, 3.5])
        y = np.zeros(6)
        c.append(ids, t, x, y)
        assert c.ids().tolist() == ["zulu", "alpha", "mike"]
        assert c.ids(bbox=(0.0, -1.0, 4.0, 1.0)).tolist() == ["zulu", "alpha", "mike"]
        assert c.ids(bbox=(0.0, -1.0, 4.0, 1.0), time=(T0 + 3600 * SEC, None)).tolist() == ["zulu", "mike"]
        assert c.ids(bbox=(10.0, -1.0, 30.0, 1.0)).tolist() == ["alpha"]
        assert c.ids(bbox=(50.0, -1.0, 60.0, 1.0)).tolist() == []
        db.flush()  # the same from segments
        assert c.ids(time=(None, T0)).tolist() == ["zulu", "alpha", "mike"]
        c.delete("alpha")
        assert c.ids().tolist() == ["zulu", "mike"]
