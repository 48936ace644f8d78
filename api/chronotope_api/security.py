"""Authentication and authorization: OAuth2 password flow with JWT access tokens, API keys, roles and grants.

``POST /auth/token`` (an OAuth2 password form) checks the password against the
argon2 hash in the store's accounts and issues a short-lived JWT (HS256 pinned;
expiry, issuer and audience checked on the way back). Machines send an API key,
``X-API-Key: ct_...`` (or as the bearer token). Grants are looked up on every
request, so removing a user or a grant takes effect at once, tokens included.
"""

from __future__ import annotations

import secrets
import time

import jwt
from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from chronotope_api import problems
from chronotope_api.accounts import GLOBAL, ROLES, Accounts, Grant
from chronotope_api.problems import Problem
from chronotope_api.throttle import Throttle

__all__ = ["router", "Guard", "dependency"]

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm is refused
ISSUER = AUDIENCE = "chronotope"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False, scheme_name="OAuth2Password",
                                     description="Log in at /auth/token with a user name and password.")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="APIKey",
                              description="A long-lived key from `chronotope apikey create` (ct_...).")
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

router = APIRouter(tags=["Authentication"])


class Guard:
    """The server's accounts, signing secret and rate limits (one per application)."""

    def __init__(self, store_path, settings):
        self.accounts = Accounts(store_path)
        self.secret = settings.secret or self.accounts.secret()
        self.ttl = settings.token_ttl
        self.per_principal = Throttle(settings.rate_limit, "principal")
        self.per_address = Throttle(settings.rate_limit, "address")
        self.per_login = Throttle(settings.login_rate_limit, "login")

    def issue(self, user: str) -> str:
        now = int(time.time())
        claims = {"sub": user, "iat": now, "nbf": now, "exp": now + self.ttl, "iss": ISSUER, "aud": AUDIENCE,
                  "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def user_of_token(self, token: str) -> str | None:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWTError:
            return None
        return claims["sub"] if isinstance(claims["sub"], str) else None

    def authenticate(self, bearer: str | None, api_key: str | None) -> str:
        """The user a request acts as; Problem(401) without or with a bad credential."""
        if api_key is None and bearer is not None and bearer.startswith("ct_"):
            bearer, api_key = None, bearer
        if api_key is not None:
            user = self.accounts.user_of_key(api_key)
            if user is None:
                raise Problem(401, "invalid or revoked API key", _UNAUTHORIZED)
        elif bearer is not None:
            user = self.user_of_token(bearer)
            if user is None:
                raise Problem(401, "invalid or expired access token; log in again at /auth/token", _UNAUTHORIZED)
        else:
            raise Problem(401, "authentication required: a bearer token from /auth/token or an X-API-Key header",
                          _UNAUTHORIZED)
        if self.accounts.grants_of(user) is None:
            raise Problem(401, f"user {user!r} no longer exists", _UNAUTHORIZED)
        return user


def effective_grant(grants: dict[str, Grant], collection: str | None) -> Grant | None:
    """The grant that rules ``collection`` (None: a route over the whole store): the most specific one."""
    if collection is not None and collection in grants:
        return grants[collection]
    return grants.get(GLOBAL)


def _rank(role: str) -> int:
    return ROLES.index(role)


def dependency(role: str, anywhere: bool = False):
    """A FastAPI dependency: authenticate, rate-limit, authorize ``role`` on the route's collection (or, with
    ``anywhere``, on at least one collection: for listings that show only what the principal may see)."""
    from chronotope_api.deps import Access, Scope

    # async although it does no awaiting: a token check and dict look-ups (a stat() of the accounts file)
    # cost less than the hop to a worker thread FastAPI makes for a plain function
    async def access(request: Request, bearer: str | None = Security(oauth2_scheme),
                     api_key: str | None = Security(api_key_scheme)) -> Access:
        guard: Guard = request.app.state.guard
        db = request.app.state.db
        user = guard.authenticate(bearer, api_key)
        guard.per_principal.hit(user)
        grants = guard.accounts.grants_of(user) or {}
        name = request.path_params.get("collectionId")
        grant = effective_grant(grants, name)
        if anywhere and name is None and (grant is None or _rank(grant.role) < _rank(role)):
            grant = next((g for g in grants.values() if _rank(g.role) >= _rank(role)), None)
            if grant is not None:  # allowed in, with no store-wide right: the route filters with access.can
                grant = Grant("reader", grant.collection)
        if grant is None or _rank(grant.role) < _rank(role):
            where = f"collection {name!r}" if name is not None else "this store"
            raise Problem(403, f"user {user!r} needs the {role} role on {where}")
        if name is not None and name not in db.collections():
            raise Problem(404, f"no collection {name!r}")
        scope = Scope(grant.bbox, grant.polygon, grant.time) if grant.limited else Scope()
        return Access(db=db, user=user, role=grant.role, collection=name, scope=scope, grants=grants)

    return access


class Token(BaseModel):
    """An OAuth2 access token response."""

    access_token: str = Field(description="the JWT to send as `Authorization: Bearer <token>`")
    token_type: str = Field("bearer", description="always `bearer`")
    expires_in: int = Field(description="seconds until the token expires", examples=[900])


class Me(BaseModel):
    """Who the request acts as, and their grants."""

    user: str
    grants: list[dict] = Field(description="role, collection (`*`: every collection), bbox, polygon, time (ns)")


_AUTH_ERRORS = {401: {"description": "wrong user name or password", "content": {problems.PROBLEM_JSON: {}}},
                429: {"description": "too many attempts", "content": {problems.PROBLEM_JSON: {}}}}


@router.post("/auth/token", summary="Log in: an access token for a user name and password", response_model=Token,
             responses=_AUTH_ERRORS)
def token(request: Request, form: OAuth2PasswordRequestForm = Depends()) -> Token:
    """The OAuth2 password flow (form fields `username`, `password`). The token expires after
    `token_ttl` seconds; log in again then."""
    guard: Guard = request.app.state.guard
    guard.per_login.hit(request.client.host if request.client else "?", form.username)
    if not guard.accounts.check_password(form.username, form.password):
        raise Problem(401, "wrong user name or password", _UNAUTHORIZED)
    return Token(access_token=guard.issue(form.username), expires_in=guard.ttl)


@router.get("/auth/me", summary="Who am I: the user and grants the credentials act with", response_model=Me,
            responses={401: {"description": "no or bad credentials", "content": {problems.PROBLEM_JSON: {}}}})
def me(request: Request, bearer: str | None = Security(oauth2_scheme),
       api_key: str | None = Security(api_key_scheme)) -> Me:
    guard: Guard = request.app.state.guard
    user = guard.authenticate(bearer, api_key)
    guard.per_principal.hit(user)
    return Me(user=user, grants=[g.to_json() for g in (guard.accounts.grants_of(user) or {}).values()])
