"""chronotope.documents: diff/apply, version chains, keyframes, persistence, corruption, compaction."""

from __future__ import annotations

import bisect
import doctest
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronotope import documents
from chronotope.documents import DocumentStore, apply, diff
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError


def canon(value) -> str:
    """JSON text that tells 1, 1.0, True and -0.0 apart: the strict equality of documents."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# -- strategies ------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=5),
    max_leaves=25,
)
json_docs = st.dictionaries(st.text(max_size=4), json_values, max_size=6)

# a small alphabet so that two documents share structure (prefixes, suffixes, keys)
small_scalars = st.sampled_from([0, 1, 1.0, True, False, None, "a", "b", -0.0, 0.0])
small_values = st.recursive(
    small_scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=4),
    max_leaves=20,
)
small_docs = st.dictionaries(st.sampled_from("abcde"), small_values, max_size=5)


# -- diff / apply ------------------------------------------------------------


@given(json_docs, json_docs)
def test_diff_apply_round_trip_random_docs(old, new):
    ops = diff(old, new)
    assert canon(apply(old, ops)) == canon(new)
    if canon(old) == canon(new):
        assert ops == []


@given(small_docs, small_docs)
def test_diff_apply_round_trip_related_docs(old, new):
    before = canon(old)
    ops = diff(old, new)
    assert canon(apply(old, ops)) == canon(new)
    assert canon(old) == before  # apply works on a copy
    # the stored form (JSON text) applies the same way
    assert canon(apply(old, json.loads(json.dumps(ops)))) == canon(new)


@given(st.lists(st.integers(0, 3), max_size=12), st.lists(st.integers(0, 3), max_size=12))
def test_diff_apply_lists(a, b):
    doc_a, doc_b = {"x": a}, {"x": b}
    assert apply(doc_a, diff(doc_a, doc_b)) == doc_b


def test_diff_examples():
    assert diff({"a": 1}, {"a": 1}) == []
    assert diff({"a": 1}, {"a": True}) == [("set", ("a",), True)]
    assert diff({"a": 1}, {}) == [("delete", ("a",))]
    ports = ["NLRTM", "EGSUZ", "SGSIN", "CNSHA", "USLAX", "DEHAM", "BEANR", "ESALG"]
    assert diff({"l": ports}, {"l": ports[:1] + ports[3:]}) == [("delete", ("l", 2)), ("delete", ("l", 1))]
    assert diff({"l": ports}, {"l": ports + ["X"]}) == [("set", ("l", 8), "X")]
    assert diff({"l": ports}, {"l": ports[:4] + ["X"] + ports[4:]}) == [("set", ("l",), ports[:4] + ["X"] + ports[4:])]
    assert diff({"d": {"x": 1, "y": 2}}, {"d": {"x": 1, "y": 3}}) == [("set", ("d", "y"), 3)]
    assert diff({"d": {"x": 1}}, {"d": [1]}) == [("set", ("d",), [1])]
    # many small changes inside a value: replaced whole
    old, new = {"l": list(range(20))}, {"l": [i + 1 for i in range(20)]}
    assert diff(old, new) == [("set", ("l",), new["l"])]


def test_apply_rejects_bad_operations():
    doc = {"a": {"b": [1, 2]}}
    for ops in (
        [("set", ("a", "x", "y"), 1)],  # missing intermediate key
        [("delete", ("nope",))],
        [("set", ("a", "b", 5), 1)],  # index past the end
        [("delete", ("a", "b", 2))],
        [("delete", ())],
        [("move", ("a",))],
        [("set", ("a",))],
        [("set", ("a", True), 1)],
        [("set", ("a", "b", -1), 1)],
        [("set", ("a", "b", "k"), 1)],
        "not a list",
    ):
        with pytest.raises(InvalidArgumentError):
            apply(doc, ops)
    assert apply(doc, [("set", (), {"z": 1})]) == {"z": 1}
    with pytest.raises(InvalidArgumentError, match="NaN"):
        apply(doc, [("set", ("a",), float("nan"))])


def test_module_doctests():
    result = doctest.testmod(documents, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


# -- validation ----------------------------------------------------------------


def test_validation(tmp_path):
    ds = DocumentStore(tmp_path)
    for bad in ([1], None, "x", 3):
        with pytest.raises(InvalidArgumentError, match="must be a dict"):
            ds.set(1, bad, at=0, lsn=1)
    cases = [
        ({"speed": float("nan")}, "'speed'"),
        ({"pos": {"lat": float("inf")}}, "'lat'"),
        ({"owner": object()}, "'owner'"),
        ({"raw": b"\x00"}, "'raw'"),
        ({"l": [1, {1, 2}]}, r"\['l'\]\[1\]"),
        ({"m": {1: "x"}}, "key 1"),
        ({"s": "\ud800"}, "'s'"),
        ({"a": np.array([1, 2])}, "'a'"),
    ]
    for doc, where in cases:
        with pytest.raises(InvalidArgumentError, match=where):
            ds.set(1, doc, at=0, lsn=1)
    deep = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(InvalidArgumentError, match="deeper"):
        ds.set(1, deep, at=0, lsn=1)
    for kwargs in ({"at": 1.5, "lsn": 1}, {"at": 2**63, "lsn": 1}, {"at": 0, "lsn": True}, {"at": "0", "lsn": 1}):
        with pytest.raises(InvalidArgumentError):
            ds.set(1, {}, **kwargs)
    with pytest.raises(InvalidArgumentError):
        ds.get(1.0)
    with pytest.raises(InvalidArgumentError):
        DocumentStore(tmp_path, keyframe_every=-1)
    assert ds.objects().tolist() == []  # nothing was stored
    # numpy scalars, tuples and str/int subclasses become plain JSON values
    ds.set(1, {"n": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True), "t": (1, 2)}, at=0, lsn=1)
    assert canon(ds.get(1)) == canon({"n": 3, "f": 0.5, "b": True, "t": [1, 2]})
    ds.close()
    with pytest.raises(ChronotopeError, match="closed"):
        ds.get(1)


# -- version chains ------------------------------------------------------------


def vessel(i: int, **extra) -> dict:
    """A realistic document: a large constant part and a few fields that change."""
    doc = {
        "name": "EVER GIVEN",
        "type": "container ship",
        "flag": "PA",
        "dims": {"length": 399.94, "beam": 58.8},
        "callsign": "H3RC",
        "remarks": "Golden-class container ship operated by Evergreen Marine. " * 6,
        "dest": ["NLRTM", "EGSUZ", "SGSIN"][i % 3],
        "eta": 1_600_000_000 + 3600 * i,
        "draught": 14.5 + (i % 7) / 10,
    }
    doc.update(extra)
    return doc


def test_as_of_boundaries(tmp_path):
    ds = DocumentStore(tmp_path)
    assert ds.get(5) is None
    assert ds.history(5) == []
    ds.set(5, {"v": 1}, at=10, lsn=1)
    ds.set(5, {"v": 2}, at=20, lsn=2)
    ds.set(5, {"v": 3}, at=30, lsn=3)
    ds.set(5, {"v": 4}, at=30, lsn=7)  # same t, later lsn: wins at t=30
    for reopen in (False, True):
        if reopen:
            ds.close()
            ds = DocumentStore(tmp_path)
        got = {t: ds.get(5, as_of=t) for t in (-(2**63), 9, 10, 11, 19, 20, 29, 30, 31, 2**63 - 1)}
        assert got[-(2**63)] is None and got[9] is None
        assert got[10] == got[11] == got[19] == {"v": 1}
        assert got[20] == got[29] == {"v": 2}
        assert got[30] == got[31] == got[2**63 - 1] == {"v": 4}
        assert ds.get(5) == {"v": 4}
        assert ds.history(5) == [(10, 1), (20, 2), (30, 3), (30, 7)]
        assert ds.get(6, as_of=100) is None
    ds.close()


def test_get_returns_independent_copies(tmp_path):
    ds = DocumentStore(tmp_path)
    doc = vessel(0)
    ds.set(1, doc, at=0, lsn=1)
    doc["name"] = "CHANGED"
    got = ds.get(1)
    assert got["name"] == "EVER GIVEN"
    got["dims"]["beam"] = 0
    assert ds.get(1)["dims"]["beam"] == 58.8
    ds.close()


def max_run(kinds: list[int]) -> int:
    """Longest run of deltas; also checks the chain starts with a keyframe."""
    assert not kinds or kinds[0] == 1
    longest = run = 0
    for k in kinds:
        run = run + 1 if k == 0 else 0
        longest = max(longest, run)
    return longest


def test_keyframe_every_n_deltas(tmp_path):
    ds = DocumentStore(tmp_path, keyframe_every=4)
    for i in range(23):
        ds.set(1, vessel(i), at=i, lsn=i + 1)
    assert ds._kinds(1) == ([1, 0, 0, 0, 0] * 5)[:23]
    ds.close()
    ds = DocumentStore(tmp_path, keyframe_every=0)
    ds.set(2, vessel(0), at=0, lsn=100)
    ds.set(2, vessel(1), at=1, lsn=101)
    assert ds._kinds(2) == [1, 1]
    ds.close()


def test_keyframe_when_deltas_outweigh_it(tmp_path):
    ds = DocumentStore(tmp_path, keyframe_every=32)
    # every change rewrites most of the document: the deltas of a run may not exceed its keyframe
    for i in range(12):
        ds.set(1, {"fixed": "f" * 300, "text": chr(97 + i) * 200, "n": i}, at=i, lsn=i + 1)
    assert ds._kinds(1) == [1, 0, 0] * 4  # keyframe ~540 bytes, each delta ~240
    for i in range(12):
        assert ds.get(1, as_of=i)["n"] == i
    ds.close()


def brute_force(versions: dict, as_of):
    keys = sorted(versions)
    if as_of is None:
        return versions[keys[-1]] if keys else None
    i = bisect.bisect_right(keys, (as_of, 2**63)) - 1
    return versions[keys[i]] if i >= 0 else None


def test_replay_length_is_bounded(tmp_path):
    n, limit = 400, 8
    rng = random.Random(1)
    ds = DocumentStore(tmp_path, keyframe_every=limit)
    expected = {}
    order = list(range(n))
    rng.shuffle(order)  # every write out of order
    for i in order:
        doc = vessel(i, seq=i)
        ds.set(3, doc, at=10 * i, lsn=i + 1)
        expected[(10 * i, i + 1)] = doc
    for flushed in (False, True):
        if flushed:
            ds.flush()
        assert max_run(ds._kinds(3)) <= limit
        for i in range(n):
            ds.drop_caches()
            before = dict(ds.stats)
            assert ds.get(3, as_of=10 * i + 5) == expected[(10 * i, i + 1)]
            assert ds.stats["keyframes_decoded"] - before["keyframes_decoded"] == 1
            assert ds.stats["deltas_applied"] - before["deltas_applied"] <= limit
    ds.close()


def test_out_of_order_inserts_and_replacements(tmp_path):
    rng = random.Random(7)
    ds = DocumentStore(tmp_path, keyframe_every=3)
    versions = {}
    keys = [(rng.randrange(0, 500), lsn) for lsn in range(1, 301)]
    for step, key in enumerate(keys):
        doc = vessel(rng.randrange(50), step=step)
        ds.set(9, doc, at=key[0], lsn=key[1])
        versions[key] = doc
        if step % 37 == 0:  # rewrite an existing version (same (t, lsn)) with new content
            old = rng.choice(list(versions))
            doc = vessel(rng.randrange(50), rewritten=step)
            ds.set(9, doc, at=old[0], lsn=old[1])
            versions[old] = doc
        if step % 97 == 0:
            ds.flush()
    # replaying a write is idempotent
    key = rng.choice(list(versions))
    ds.set(9, versions[key], at=key[0], lsn=key[1])
    for reopen in (False, True):
        if reopen:
            ds.close()
            ds = DocumentStore(tmp_path, keyframe_every=3)
        assert ds.history(9) == sorted(versions)
        assert max_run(ds._kinds(9)) <= 3
        for t in list(range(-1, 502)) + [None]:
            assert ds.get(9, as_of=t) == brute_force(versions, t)
    ds.close()


def test_history_with_ops_rebuilds_every_version(tmp_path):
    ds = DocumentStore(tmp_path, keyframe_every=4)
    docs = [vessel(i, tags=list(range(i % 4))) for i in range(15)]
    for i, d in enumerate(docs):
        ds.set(1, d, at=i, lsn=i + 1)
    ds.flush()
    doc = {}
    for (t, lsn, ops), expected in zip(ds.history(1, ops=True), docs):
        doc = apply(doc, ops)
        assert doc == expected
    ds.close()


# -- store-level property test -------------------------------------------------

write_doc = st.fixed_dictionaries(
    {"remarks": st.just("r" * 120), "dest": st.sampled_from(["A", "B", "C"]), "n": st.integers(0, 3)},
    optional={"tags": st.lists(st.sampled_from("xyz"), max_size=3), "eta": st.integers(0, 10)},
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 2), st.integers(0, 40), write_doc),
        st.tuples(st.just("delete"), st.integers(0, 2)),
        st.tuples(st.just("flush")),
        st.tuples(st.just("rewrite"), write_doc),
    ),
    max_size=40,
)


@given(actions=actions, lsn_order=st.randoms(use_true_random=False))
def test_store_matches_model(tmp_path_factory, actions, lsn_order):
    directory = tmp_path_factory.mktemp("model")
    ds = DocumentStore(directory, keyframe_every=2)
    model: dict[int, dict] = {0: {}, 1: {}, 2: {}}
    tomb = {0: -1, 1: -1, 2: -1}
    lsns = list(range(1, len(actions) + 1))
    lsn_order.shuffle(lsns)  # log records may be applied in any order
    for lsn, action in zip(lsns, actions):
        if action[0] == "set":
            _, oid, t, doc = action
            ds.set(oid, doc, at=t, lsn=lsn)
            if lsn > tomb[oid]:
                model[oid][(t, lsn)] = doc
        elif action[0] == "delete":
            ds.delete(action[1], lsn=lsn)
            tomb[action[1]] = max(tomb[action[1]], lsn)
            model[action[1]] = {k: v for k, v in model[action[1]].items() if k[1] > tomb[action[1]]}
        elif action[0] == "flush":
            ds.flush()
        else:  # rewrite an existing version
            existing = [(o, k) for o in model for k in model[o]]
            if existing:
                o, k = existing[lsn % len(existing)]
                ds.set(o, action[1], at=k[0], lsn=k[1])
                model[o][k] = action[1]

    def check(store):
        assert store.objects().tolist() == [o for o in sorted(model) if model[o]]
        for oid, versions in model.items():
            assert store.history(oid) == sorted(versions)
            assert max_run(store._kinds(oid)) <= 2
            for t in [None] + list(range(-1, 42)):
                assert store.get(oid, as_of=t) == brute_force(versions, t)

    check(ds)
    ds.close()
    ds = DocumentStore(directory, keyframe_every=2)
    check(ds)
    ds.compact()
    check(ds)
    assert ds.verify() == []
    ds.close()


# -- deletes ---------------------------------------------------------------------


def test_delete(tmp_path):
    ds = DocumentStore(tmp_path, keyframe_every=4)
    for i in range(10):
        ds.set(1, vessel(i), at=i, lsn=i + 1)
        ds.set(2, vessel(i + 1), at=i, lsn=100 + i)
    ds.flush()
    ds.set(1, vessel(50), at=50, lsn=60)  # written (lsn 60) before the delete arrives
    ds.delete(1, lsn=30)
    ds.delete(2, lsn=200)
    assert ds.history(1) == [(50, 60)]
    assert ds.get(1, as_of=5) is None and ds.get(1) == vessel(50)
    assert ds.get(2) is None and ds.history(2) == []
    ds.set(2, vessel(3), at=5, lsn=150)  # an older write replayed: stays deleted
    assert ds.get(2) is None
    ds.set(2, vessel(4), at=7, lsn=201)
    assert ds.objects().tolist() == [1, 2]
    ds.delete(3, lsn=5)  # deleting an unknown object is fine
    ds.close()
    ds = DocumentStore(tmp_path, keyframe_every=4)
    assert ds.history(1) == [(50, 60)] and ds.get(1) == vessel(50)
    assert ds.history(2) == [(7, 201)]
    ds.set(2, vessel(3), at=5, lsn=150)
    assert ds.history(2) == [(7, 201)]
    ds.close()


# -- persistence -------------------------------------------------------------------


def test_persistence_across_reopen(tmp_path):
    rng = random.Random(3)
    expected: dict[int, dict] = {}
    ds = DocumentStore(tmp_path, keyframe_every=5)
    lsn = 0
    for round_ in range(4):
        for _ in range(200):
            oid = rng.randrange(-3, 20) * 1_000_003
            t = rng.randrange(10**12)
            lsn += 1
            doc = vessel(rng.randrange(9), owner=f"o{round_}", n=lsn)
            ds.set(oid, doc, at=t, lsn=lsn)
            expected.setdefault(oid, {})[(t, lsn)] = doc
        ds.flush()
    ds.set(0, {"pending": True}, at=0, lsn=10**6)  # un-flushed: close() flushes it
    expected[0][(0, 10**6)] = {"pending": True}
    ds.close()
    ds.close()  # idempotent
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 5 and all(n.endswith(".ctd") for n in names)
    ds = DocumentStore(tmp_path, keyframe_every=5)
    assert ds.objects().tolist() == sorted(expected)
    assert ds.objects().dtype == np.int64
    for oid, versions in expected.items():
        assert ds.history(oid) == sorted(versions)
        for key in versions:
            assert ds.get(oid, as_of=key[0]) == brute_force(versions, key[0])
    assert ds.verify() == []
    ds.close()


def test_leftover_temp_files_are_ignored(tmp_path):
    ds = DocumentStore(tmp_path)
    ds.set(1, {"a": 1}, at=0, lsn=1)
    ds.close()
    (tmp_path / "000000000009.ctd.tmp").write_bytes(b"half a file")
    (tmp_path / "notes.txt").write_text("not ours")
    ds = DocumentStore(tmp_path)
    assert ds.get(1) == {"a": 1} and ds.verify() == []
    assert not (tmp_path / "000000000009.ctd.tmp").exists()
    assert (tmp_path / "notes.txt").exists()
    ds.close()


def test_directory_is_created(tmp_path):
    with DocumentStore(tmp_path / "a" / "docs") as ds:
        ds.set(1, {"a": 1}, at=0, lsn=1)
    with DocumentStore(tmp_path / "a" / "docs") as ds:
        assert ds.get(1) == {"a": 1}


# -- corruption ----------------------------------------------------------------------


def build_store(directory, objects=5, versions=60):
    docs = {}
    with DocumentStore(directory, keyframe_every=6) as ds:
        for i in range(versions):
            for oid in range(objects):
                doc = vessel(i, oid=oid, note="n" * (i % 13))
                ds.set(oid, doc, at=i * 1000, lsn=i * objects + oid + 1)
                docs[(oid, i * 1000)] = doc
    (path,) = [os.path.join(directory, n) for n in os.listdir(directory)]
    return path, docs


def read_everything(directory, docs):
    """Open the store and read every version; return the problems of verify()."""
    with DocumentStore(directory) as ds:
        problems = ds.verify()
        for (oid, t), doc in docs.items():
            assert ds.get(oid, as_of=t) == doc
        return problems


def test_payload_corruption_detected_by_verify_and_get(tmp_path):
    path, docs = build_store(tmp_path)
    name = os.path.basename(path)
    f = documents._DocFile(path, 1)
    offset, length = f.chunk_pos[0]
    f.close()
    data = bytearray(Path(path).read_bytes())
    data[offset + length // 2] ^= 0x40
    Path(path).write_bytes(data)
    ds = DocumentStore(tmp_path)
    problems = ds.verify()
    assert problems and all(name in p for p in problems)
    with pytest.raises(CorruptDataError, match=name):
        for (oid, t) in docs:
            ds.drop_caches()
            ds.get(oid, as_of=t)
    with pytest.raises(CorruptDataError, match=name):
        ds.compact()
    ds.close()


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -1])
def test_torn_file_detected(tmp_path, keep):
    path, docs = build_store(tmp_path)
    data = Path(path).read_bytes()
    size = int(len(data) * keep) if isinstance(keep, float) else (keep if keep >= 0 else len(data) + keep)
    Path(path).write_bytes(data[:size])
    name = os.path.basename(path)
    ds = DocumentStore(tmp_path)  # opens: the damage is reported, never dropped
    problems = ds.verify()
    assert len(problems) == 1 and name in problems[0]
    for call in (lambda: ds.get(0), lambda: ds.history(0), ds.objects, lambda: ds.set(0, {}, at=0, lsn=10**6)):
        with pytest.raises(CorruptDataError, match=name):
            call()
    ds.close()
    assert Path(path).read_bytes() == data[:size]  # the evidence is left alone


def test_every_corrupted_byte_is_noticed(tmp_path):
    good, docs = build_store(tmp_path / "good", objects=2, versions=25)
    data = Path(good).read_bytes()
    name = os.path.basename(good)
    target = tmp_path / "bad"
    target.mkdir()
    positions = sorted(set(range(0, 64)) | set(range(len(data) - 300, len(data))) | set(range(0, len(data), 37)))
    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= 0x10
        (target / name).write_bytes(damaged)
        try:
            problems = read_everything(target, docs)
        except CorruptDataError as exc:
            assert name in str(exc), pos
            with DocumentStore(target) as ds:
                problems = ds.verify()
        assert problems and all(name in p for p in problems), pos


def test_forged_payload_with_valid_checksums(tmp_path):
    """A file whose checksums are right but whose JSON is not: CorruptDataError, not a crash."""
    documents._write_file(
        str(tmp_path),
        1,
        np.array([1, 1], np.int64),
        np.array([0, 1], np.int64),
        np.array([1, 2], np.int64),
        np.array([1, 0], np.uint8),
        [b'{"a":1}', b'[["delete",["zzz"]]]'],
        np.empty(0, np.int64),
        np.empty(0, np.int64),
    )
    documents._write_file(
        str(tmp_path),
        2,
        np.array([2], np.int64),
        np.array([0], np.int64),
        np.array([3], np.int64),
        np.array([0], np.uint8),
        [b"not json"],
        np.empty(0, np.int64),
        np.empty(0, np.int64),
    )
    ds = DocumentStore(tmp_path)
    assert ds.get(1, as_of=0) == {"a": 1}
    with pytest.raises(CorruptDataError, match="000000000001.ctd"):
        ds.get(1)
    with pytest.raises(CorruptDataError, match="000000000002.ctd"):
        ds.get(2)
    assert any("starts with a delta" in p for p in ds.verify())
    ds.close()


# -- compaction ----------------------------------------------------------------------


def test_compact_preserves_every_version(tmp_path):
    rng = random.Random(11)
    ds = DocumentStore(tmp_path, keyframe_every=4)
    expected: dict[int, dict] = {}
    lsn = 0
    for _ in range(6):
        for _ in range(150):
            oid, t = rng.randrange(8), rng.randrange(10_000)
            lsn += 1
            doc = vessel(rng.randrange(20), n=rng.randrange(3))
            ds.set(oid, doc, at=t, lsn=lsn)
            expected.setdefault(oid, {})[(t, lsn)] = doc
        ds.flush()
    lsn += 1
    ds.delete(3, lsn=lsn)
    del expected[3]
    ds.flush()
    assert len(os.listdir(tmp_path)) == 7
    ds.compact()
    assert len(os.listdir(tmp_path)) == 1
    for reopen in (False, True):
        if reopen:
            ds.close()
            ds = DocumentStore(tmp_path, keyframe_every=4)
        assert ds.verify() == []
        assert ds.objects().tolist() == sorted(expected)
        for oid, versions in expected.items():
            assert ds.history(oid) == sorted(versions)
            assert max_run(ds._kinds(oid)) <= 4
            for key in versions:
                assert ds.get(oid, as_of=key[0]) == brute_force(versions, key[0])
        ds.set(3, vessel(0), at=0, lsn=1)  # the tombstone survived compaction
        assert ds.get(3) is None
    ds.compact()  # compacting a compacted store is fine
    assert len(os.listdir(tmp_path)) == 1
    ds.close()


def test_compact_empty_and_all_deleted(tmp_path):
    ds = DocumentStore(tmp_path)
    ds.compact()
    assert os.listdir(tmp_path) == []
    ds.set(1, {"a": 1}, at=0, lsn=1)
    ds.flush()
    ds.delete(1, lsn=2)
    ds.compact()
    assert ds.objects().tolist() == []
    ds.close()
    ds = DocumentStore(tmp_path)
    ds.set(1, {"a": 1}, at=0, lsn=1)
    assert ds.get(1) is None
    ds.close()


# -- a long chain --------------------------------------------------------------------


def test_long_chain_matches_brute_force(tmp_path):
    rng = random.Random(2024)
    n = 20_000
    times = np.cumsum(np.random.default_rng(5).integers(1, 10**9, n)).tolist()
    doc = vessel(0, tags=[])
    docs = []
    for i in range(n):
        doc = json.loads(json.dumps(doc))
        r = rng.random()
        if r < 0.4:
            doc["draught"] = round(10 + rng.random() * 5, 2)
        elif r < 0.6:
            doc["dest"] = rng.choice(["NLRTM", "EGSUZ", "SGSIN", "CNSHA"])
        elif r < 0.8:
            doc["tags"].append(i) if len(doc["tags"]) < 8 else doc["tags"].pop(rng.randrange(8))
        else:
            doc["eta"] = times[i] + rng.randrange(10**12)
        docs.append(doc)
    ds = DocumentStore(tmp_path)
    order = list(range(n))
    # mostly in order, with some late arrivals inserted into the past
    late = set(rng.sample(range(n), 200))
    order = [i for i in order if i not in late] + sorted(late, key=lambda _: rng.random())
    for k, i in enumerate(order):
        ds.set(42, docs[i], at=times[i], lsn=i + 1)
        if k == n // 2:
            ds.flush()
    ds.close()
    ds = DocumentStore(tmp_path)
    assert max_run(ds._kinds(42)) <= 32
    probes = [rng.randrange(times[0] - 10, times[-1] + 10) for _ in range(300)] + rng.sample(times, 100)
    for t in probes:
        i = bisect.bisect_right(times, t) - 1
        ds.drop_caches()
        before = ds.stats["deltas_applied"]
        assert ds.get(42, as_of=t) == (docs[i] if i >= 0 else None)
        assert ds.stats["deltas_applied"] - before <= 32
    ds.close()
