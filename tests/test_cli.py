"""The chronotope command line, run as a real process."""

import json
import subprocess
import sys

import pytest


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "chronotope.cli", *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "db"
    out = run("ingest", path, "--batch", "50000")
    assert "ingested 172,679 points" in out.stdout
    assert "100%" in out.stderr  # progress on stderr
    return path


def test_the_demo_is_the_main_job():
    out = run().stdout
    assert "172,679 points of 140 objects" in out
    for what in ("box x 6 h", "10 nearest objects at t", "snapshot at t", "counts on a 0.01 deg grid"):
        assert what in out
    assert "strategy: index" in out


def test_codecs_table():
    out = run("codecs", "--repeat", "1").stdout
    assert "bytes per point" in out and "compact" in out and "fast" in out


def test_stats_verify_compact_migrate(store):
    stats = json.loads(run("stats", store).stdout)["collections"]["ais"]
    assert stats["points"] == 172_679 and stats["objects"] == 140
    assert "all checksums verified" in run("verify", store).stdout
    assert "segments_merged" in run("compact", store).stdout
    assert "'to': 1" in run("migrate", store).stdout


def test_export_and_inspect(store, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    run("export", store, "ais", tmp_path / "all.parquet")
    assert pq.read_table(tmp_path / "all.parquet").num_rows == 172_679
    out = run("export", store, "ais", tmp_path / "day.csv", "--start", "2020-12-03", "--end", "2020-12-03T23:59:59")
    rows = (tmp_path / "day.csv").read_text().count("\n") - 1
    assert f"exported {rows:,} rows" in out.stdout and 0 < rows < 172_679
    seg = sorted((store / "ais" / "seg").glob("*.cts"))[0]
    out = run("inspect", seg).stdout
    assert "rows in" in out and "column x" in out


def test_query_prints_writes_and_explains(store, tmp_path):
    import chronotope as ct

    args = ["--bbox=-74.05,40.60,-74.00,40.70", "--start", "2020-12-03", "--end", "2020-12-03T06:00"]
    with ct.open(store, readonly=True) as db:
        want = db.collection("ais").query(bbox=(-74.05, 40.60, -74.00, 40.70), time=("2020-12-03", "2020-12-03T06:00"))
        first = int(want["object_id"][0])
    out = run("query", store, "ais", *args).stdout
    assert out.startswith(f"{len(want):,} rows") and str(first) in out
    assert "strategy:" in run("query", store, "ais", *args, "--explain").stdout
    pq = pytest.importorskip("pyarrow.parquet")
    run("query", store, "ais", *args, "--out", tmp_path / "q.parquet", "--ids", str(first))
    table = pq.read_table(tmp_path / "q.parquet")
    assert table.num_rows == int((want["object_id"] == first).sum()) > 0
    square = {"type": "Polygon", "coordinates": [[[-74.05, 40.6], [-74.0, 40.6], [-74.0, 40.7], [-74.05, 40.7]]]}
    (tmp_path / "square.geojson").write_text(json.dumps({"type": "Feature", "geometry": square}))
    out = run("query", store, "ais", "--polygon", tmp_path / "square.geojson", "--start", "2020-12-03",
              "--end", "2020-12-03T06:00").stdout
    assert out.startswith(f"{len(want):,} rows")
    bad = run("query", store, "ais", "--bbox", "1,2,3", check=False)
    assert bad.returncode == 2 and "--bbox" in bad.stderr


def test_verify_reports_damage_with_exit_status(store, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    seg = sorted((copy / "ais" / "seg").glob("*.cts"))[0]
    raw = bytearray(seg.read_bytes())
    raw[len(raw) // 4] ^= 0xFF
    seg.write_bytes(bytes(raw))
    proc = run("verify", copy, check=False)
    assert proc.returncode == 1 and seg.name in proc.stdout


def test_prune_thins_old_samples(store, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    out = run("prune", copy, "--older-than", "2020-12-04", "--keep-every", "1h").stdout
    assert "rows_removed" in out and "'rows_removed': 0" not in out


def test_errors_are_messages_not_tracebacks(tmp_path):
    proc = run("stats", tmp_path / "nothing", check=False)
    assert proc.returncode == 2 and "not a chronotope store" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("export", tmp_path / "nothing", "ais", tmp_path / "x.txt", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
