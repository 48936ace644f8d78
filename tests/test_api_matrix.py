"""The permission matrix: every route of the live server's OpenAPI x role x collection grant -> expected status.

Each operation the server documents must have a row in ROUTES (a new route
without one fails the test). Allowed calls must not be refused (401/403): they
may still fail on their harmless dummy input (400/404/422...). Refused calls
must get 401 (no or bad credentials) or 403 (valid credentials lacking the
right), as problem+json. Destructive routes aim at things that do not exist.
"""

from __future__ import annotations

import os
import sys

import httpx
import pytest

pytest.importorskip("fastapi")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import cli, serving  # noqa: E402

PUBLIC, ANY = "public", "authenticated"
# (method, path) -> the least role needed ("reader" | "writer" | "admin"), or PUBLIC, or ANY (any login)
ROUTES = {
    ("GET", "/"): PUBLIC,
    ("GET", "/conformance"): PUBLIC,
    ("GET", "/api"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("POST", "/auth/token"): PUBLIC,
    ("GET", "/auth/me"): ANY,
    ("GET", "/collections"): "reader",  # on any collection: the list shows only the readable ones
    ("POST", "/collections"): "admin",
    ("GET", "/collections/{collectionId}"): "reader",
    ("PUT", "/collections/{collectionId}"): "admin",
    ("DELETE", "/collections/{collectionId}"): "admin",
    ("GET", "/collections/{collectionId}/items"): "reader",
    ("POST", "/collections/{collectionId}/items"): "writer",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}"): "reader",
    ("DELETE", "/collections/{collectionId}/items/{mFeatureId}"): "writer",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}/tgsequence"): "reader",
    ("POST", "/collections/{collectionId}/items/{mFeatureId}/tgsequence"): "writer",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}/tgsequence/{tGeometryId}/velocity"): "reader",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}/tgsequence/{tGeometryId}/distance"): "reader",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}/tgsequence/{tGeometryId}/acceleration"): "reader",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}/tproperties"): "reader",
    ("POST", "/collections/{collectionId}/items/{mFeatureId}/tproperties"): "writer",
    ("GET", "/collections/{collectionId}/items/{mFeatureId}/tproperties/{tPropertyName}"): "reader",
    ("POST", "/collections/{collectionId}/items/{mFeatureId}/tproperties/{tPropertyName}"): "writer",
    ("POST", "/collections/{collectionId}/samples"): "writer",
    ("GET", "/collections/{collectionId}/query"): "reader",
    ("POST", "/collections/{collectionId}/query"): "reader",
    ("GET", "/collections/{collectionId}/explain"): "reader",
    ("POST", "/collections/{collectionId}/explain"): "reader",
    ("GET", "/collections/{collectionId}/nearest"): "reader",
    ("GET", "/collections/{collectionId}/snapshot"): "reader",
    ("GET", "/collections/{collectionId}/track/{objectId}"): "reader",
    ("DELETE", "/collections/{collectionId}/track/{objectId}"): "writer",
    ("GET", "/collections/{collectionId}/count"): "reader",
    ("GET", "/collections/{collectionId}/aggregate"): "reader",
    ("GET", "/collections/{collectionId}/documents/{objectId}"): "reader",
    ("PUT", "/collections/{collectionId}/documents/{objectId}"): "writer",
    ("GET", "/collections/{collectionId}/documents/{objectId}/history"): "reader",
    ("GET", "/stats"): "admin",
    ("POST", "/admin/compact"): "admin",
    ("POST", "/admin/prune"): "admin",
    ("POST", "/admin/verify"): "admin",
}
RANK = {"reader": 0, "writer": 1, "admin": 2}
MISSING_ID = "999999999999"  # no such feature in the demo data

# principal -> grants given with the CLI: (role, collection or None)
PRINCIPALS = {
    "g_reader": [("reader", None)],
    "g_writer": [("writer", None)],
    "g_admin": [("admin", None)],
    "ais_writer": [("writer", "ais")],             # only on ais
    "other_admin": [("admin", "other")],           # only on another collection
    "mixed": [("reader", None), ("admin", "ais")],  # the specific grant wins on ais
    "nothing": [],
}


def cli_ok(*args: str, stdin: str | None = None) -> None:
    proc = cli(*args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("matrix") / "store")
    with serving(store, "--demo") as server:
        tokens = {None: None}
        for name, grants in PRINCIPALS.items():
            cli_ok("user", "add", name, "--role", "reader", "--store", store, stdin=f"{name}-password\n")
            cli_ok("user", "revoke", name, "--store", store)
            for role, coll in grants:
                cli_ok("user", "grant", name, "--role", role, *(["--collection", coll] if coll else []), "--store", store)
            tokens[name] = server.token(name, f"{name}-password")
        with server.client() as admin:
            feature = admin.get("/collections/ais/items", params={"limit": 1}).json()["features"][0]["id"]
        yield server, tokens, str(feature)


def expected_role(principal: str | None, need: str, collection: str | None) -> str | None:
    """The role the principal holds where the route acts (None: nothing)."""
    grants = dict((coll or "*", role) for role, coll in PRINCIPALS.get(principal, []))
    if need == "reader" and collection is None and grants:  # listings: any grant lets in
        return max(grants.values(), key=RANK.get)
    return grants.get(collection) or grants.get("*") if collection else grants.get("*")


def concrete(path: str, method: str, feature: str) -> tuple[str, str | None]:
    """The URL to call and the collection it acts on; destructive calls aim at things that do not exist."""
    collection = "ais"
    if method in ("PUT", "DELETE") and path == "/collections/{collectionId}":
        collection = "ghost"
    fid = MISSING_ID if method == "DELETE" else feature
    url = (path.replace("{collectionId}", collection).replace("{mFeatureId}", fid).replace("{objectId}", fid)
           .replace("{tGeometryId}", "0").replace("{tPropertyName}", "speed"))
    return url, (collection if "{collectionId}" in path else None)


def test_every_documented_route_is_in_the_matrix(world):
    server, _, _ = world
    api = httpx.get(server.url + "/api").json()
    documented = {(m.upper(), p) for p, ops in api["paths"].items() for m in ops if m in ("get", "post", "put", "delete", "patch")}
    documented |= {("GET", "/api"), ("GET", "/docs"), ("GET", "/redoc")}  # served, not listed in the document
    assert documented - set(ROUTES) == set(), "routes missing from the permission matrix"
    assert set(ROUTES) - documented == set(), "matrix rows for routes the server does not document"


@pytest.mark.parametrize("principal", [None, "bad-token", *PRINCIPALS, "demo"])
def test_permission_matrix(world, principal):
    server, tokens, feature = world
    if principal == "demo":
        token = server.token()
    elif principal == "bad-token":
        token = "not-a-token"
    else:
        token = tokens[principal]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    wrong = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        for (method, path), need in ROUTES.items():
            url, collection = concrete(path, method, feature)
            body = {"data": {"username": "nobody", "password": "x"}} if path == "/auth/token" else {"json": {}}
            resp = client.request(method, url, **(body if method in ("POST", "PUT") else {}))
            if need == PUBLIC:
                allowed = True
            elif principal in (None, "bad-token"):
                allowed = False
                if resp.status_code != 401:
                    wrong.append((method, url, resp.status_code, "want 401"))
                continue
            elif need == ANY:
                allowed = True
            else:
                held = "admin" if principal == "demo" else expected_role(principal, need, collection)
                allowed = held is not None and RANK[held] >= RANK[need]
            if allowed and resp.status_code in (401, 403) and path != "/auth/token":
                wrong.append((method, url, resp.status_code, f"want allowed ({resp.text[:120]})"))
            if not allowed and resp.status_code != 403:
                wrong.append((method, url, resp.status_code, "want 403"))
            if resp.status_code >= 400:
                assert resp.headers["content-type"] == "application/problem+json", (method, url)
            assert resp.status_code < 500, (method, url, resp.text)
    assert wrong == []


def test_listings_show_only_what_the_principal_may_read(world):
    server, tokens, _ = world
    with server.client() as admin:
        assert admin.post("/collections", json={"id": "other", "title": "another", "itemType": "movingfeature"}).status_code == 201
        assert {c["id"] for c in admin.get("/collections").json()["collections"]} == {"ais", "other"}
    for principal, want in (("ais_writer", {"ais"}), ("other_admin", {"other"}), ("g_reader", {"ais", "other"})):
        with server.client(tokens[principal]) as client:
            assert {c["id"] for c in client.get("/collections").json()["collections"]} == want
    with server.client(tokens["nothing"]) as client:
        assert client.get("/collections").status_code == 403
