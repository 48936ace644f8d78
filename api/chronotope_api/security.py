"""Authentication (being written): for now every request acts as an unlimited admin."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter()


def dependency(role: str):
    from chronotope_api.deps import Access, Scope
    from chronotope_api.problems import Problem

    def access(request: Request) -> Access:
        db = request.app.state.db
        name = request.path_params.get("collectionId")
        if name is not None and name not in db.collections():
            raise Problem(404, f"no collection {name!r}")
        return Access(db=db, user="anonymous", role="admin", collection=name, scope=Scope())

    return access
