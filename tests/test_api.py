"""The REST layer against a real server: `chronotope serve` (uvicorn) on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from chronotope.errors import InvalidArgumentError

pytest.importorskip("fastapi")
from chronotope_api import load_settings  # noqa: E402 - after the skip: the server extra may be absent

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server, assert_problem  # noqa: E402


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = Server("--store", str(tmp_path_factory.mktemp("api") / "store"), "--demo").start()
    try:
        yield server
    finally:
        assert server.stop() == 0


@pytest.fixture(scope="module")
def server(srv):
    return srv.url


@pytest.fixture(scope="module")
def admin(srv):
    with srv.client() as client:
        yield client


def test_landing_page_links_the_api_conformance_and_data(server):
    body = httpx.get(server + "/").json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert rels == {"self": server + "/", "service-desc": server + "/api", "service-doc": server + "/docs",
                    "conformance": server + "/conformance", "data": server + "/collections"}
    api = httpx.get(rels["service-desc"]).json()
    assert api["openapi"].startswith("3.") and "/collections/{collectionId}" in api["paths"]
    conf = httpx.get(rels["conformance"]).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core" in conf


def test_collections_describe_the_demo_data(server, admin):
    body = admin.get("/collections").json()
    (ais,) = body["collections"]
    assert ais["id"] == "ais" and ais["itemType"] == "movingfeature"
    assert ais["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    (bbox,) = ais["extent"]["spatial"]["bbox"]
    assert -74.4 < bbox[0] < bbox[2] < -73.6 and 40.3 < bbox[1] < bbox[3] < 40.9  # New York harbour
    (interval,) = ais["extent"]["temporal"]["interval"]
    assert interval == ["2020-12-01T04:49:45Z", "2020-12-07T23:29:51Z"]
    assert admin.get("/collections/ais").json() == ais


def test_errors_are_problem_details(server, admin):
    assert_problem(admin.get("/collections/nope"), 404, "no collection 'nope'")
    assert_problem(admin.get("/collections/..%2F..%2Fetc"), 404)
    assert_problem(httpx.get(server + "/no/such/route"), 404)
    assert_problem(httpx.post(server + "/conformance"), 405)


def test_settings_come_from_toml_then_environment_then_arguments(tmp_path):
    cfg = tmp_path / "chronotope.toml"
    cfg.write_text('store = "from-toml"\nport = 7000\ndemo = true\n')
    s = load_settings(cfg, environ={"CHRONOTOPE_PORT": "7001"})
    assert (s.store, s.port, s.demo, s.host) == ("from-toml", 7001, True, "127.0.0.1")
    assert load_settings(cfg, environ={"CHRONOTOPE_PORT": "7001"}, port=7002).port == 7002
    assert load_settings(environ={"CHRONOTOPE_CONFIG": str(cfg)}).store == "from-toml"
    cfg.write_text("colour = 'red'\n")
    with pytest.raises(InvalidArgumentError, match="unknown setting"):
        load_settings(cfg, environ={})
    with pytest.raises(InvalidArgumentError, match="CHRONOTOPE_PORT"):
        load_settings(environ={"CHRONOTOPE_PORT": "eighty"})
    with pytest.raises(InvalidArgumentError, match="port must be 1-65535"):
        load_settings(environ={}, port=70000)


def test_serve_takes_its_settings_from_the_environment(tmp_path):
    srv = Server(env={"CHRONOTOPE_STORE": str(tmp_path / "env-store")})
    srv.args = []  # everything from the environment
    srv.env["CHRONOTOPE_PORT"] = str(srv.port)
    try:
        srv.start()
        assert httpx.get(srv.url + "/collections").status_code in (200, 401)
    finally:
        assert srv.stop() == 0
    assert (tmp_path / "env-store" / "MANIFEST").exists()


def test_serve_refuses_bad_settings_with_a_message(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "chronotope.cli", "serve", "--store", str(tmp_path / "s")],
                          env={**os.environ, "CHRONOTOPE_PORT": "0x50"}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "CHRONOTOPE_PORT: port must be an integer" in proc.stderr


def test_every_answer_has_a_request_id_and_problems_name_it(server, admin):
    ok = admin.get("/collections")
    assert len(ok.headers["x-request-id"]) == 16
    mine = admin.get("/collections/ais/query", params={"bbox": "1,2,3"}, headers={"X-Request-ID": "trace-42.a"})
    body = assert_problem(mine, 400)
    assert mine.headers["x-request-id"] == body["request_id"] == "trace-42.a"
    assert body["error"] == "InvalidArgumentError"  # the package's exception: the SDK raises the same
    unsafe = admin.get("/collections/nope", headers={"X-Request-ID": "x" * 65})
    assert assert_problem(unsafe, 404)["request_id"] == unsafe.headers["x-request-id"] != "x" * 65
    assert "error" not in unsafe.json()
