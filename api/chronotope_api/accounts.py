"""Users, password hashes, grants and API keys, kept in the store's own metadata (``auth.json``).

The file sits beside the MANIFEST with owner-only permissions (0600); its name
has a dot, so no collection can ever take it. Writers (the CLI, while a server
may be running) take an exclusive ``flock`` on ``auth.lock`` and replace the
file atomically; readers notice a change by its modification time and reload.

A grant gives one role — ``reader`` < ``writer`` < ``admin`` — on one collection or
on every collection (``"*"``), optionally limited to a region (a bbox or a
GeoJSON polygon) and a time window. A user holds at most one grant per
collection, and the most specific grant wins: a grant on ``ais`` overrides the
global one for ``ais``.

API keys are random 256-bit secrets (``ct_<id>_<secret>``), stored as SHA-256
digests: unlike passwords they cannot be guessed, so a slow hash adds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from chronotope import spatial
from chronotope.errors import ChronotopeError, InvalidArgumentError
from chronotope.ingest import check_name, time_range

__all__ = ["Accounts", "Grant", "ROLES", "GLOBAL", "AccountError"]

ROLES = ("reader", "writer", "admin")
GLOBAL = "*"
_FILE, _LOCK, _SECRET = "auth.json", "auth.lock", "secret.key"
_KEY_PREFIX = "ct_"


class AccountError(ChronotopeError):
    """A user, grant or key operation that cannot be done (unknown user, duplicate, ...)."""


@dataclass(frozen=True)
class Grant:
    """One role on one collection (or GLOBAL), optionally limited to a region and a time window."""

    role: str
    collection: str = GLOBAL
    bbox: tuple[float, float, float, float] | None = None
    polygon: dict | None = None
    time: tuple[int, int] | None = None  # inclusive int64 ns

    @classmethod
    def make(cls, role: str, collection: str | None = None, bbox=None, polygon=None, time=None) -> "Grant":
        """A checked grant; ``time`` is a (start, end) pair (either end None for open)."""
        if role not in ROLES:
            raise InvalidArgumentError(f"role must be one of {list(ROLES)}, got {role!r}")
        collection = GLOBAL if collection in (None, GLOBAL) else check_name(collection, "collection")
        if polygon is not None:
            if bbox is not None:
                raise InvalidArgumentError("limit a grant by a bbox or by a polygon, not both")
            _, bbox = spatial.parse_polygon(polygon)  # checks it; the box speeds reads up
            polygon = getattr(polygon, "__geo_interface__", polygon)
            if isinstance(polygon, (list, tuple)):
                polygon = {"type": "Polygon", "coordinates": [list(map(list, ring)) for ring in polygon]}
        bbox = spatial.parse_bbox(bbox)
        window = None if time is None else time_range(time)
        return cls(role, collection, bbox, polygon, window)

    @property
    def limited(self) -> bool:
        return self.bbox is not None or self.time is not None

    def to_json(self) -> dict:
        return {"role": self.role, "collection": self.collection, "bbox": self.bbox, "polygon": self.polygon,
                "time": self.time}

    @classmethod
    def from_json(cls, d: dict) -> "Grant":
        return cls(d["role"], d["collection"], tuple(d["bbox"]) if d.get("bbox") else None, d.get("polygon"),
                   tuple(d["time"]) if d.get("time") else None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    """The accounts of the store at ``path`` (a store directory)."""

    def __init__(self, path):
        self.path = Path(path)
        if not (self.path / "MANIFEST").exists():
            raise ChronotopeError(f"{self.path} is not a chronotope store (no MANIFEST)")
        self._file = self.path / _FILE
        self._stamp = None
        self._data = {"users": {}, "api_keys": {}}
        self._hasher = None

    # ---- the file ----

    def _load(self) -> dict:
        try:
            st = self._file.stat()
        except FileNotFoundError:
            self._stamp, self._data = None, {"users": {}, "api_keys": {}}
            return self._data
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            try:
                data = json.loads(self._file.read_text())
            except (OSError, ValueError) as exc:
                raise ChronotopeError(f"{self._file}: unreadable accounts file ({exc})") from None
            self._stamp, self._data = stamp, data
        return self._data

    @contextlib.contextmanager
    def _editing(self):
        """Read-modify-write under the lock; the new file replaces the old one atomically."""
        fd = os.open(self.path / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._stamp = None
            data = json.loads(json.dumps(self._load()))  # a private copy
            yield data
            tmp = self.path / (_FILE + ".tmp")
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._file)
            self._stamp = None
        finally:
            os.close(fd)

    @property
    def hasher(self):
        if self._hasher is None:
            from pwdlib import PasswordHash

            self._hasher = PasswordHash.recommended()  # argon2id with the library's current parameters
        return self._hasher

    def _hash(self, password: str) -> str:
        if len(password) < 8:
            raise InvalidArgumentError("password must have at least 8 characters")
        return self.hasher.hash(password)

    # ---- users ----

    def users(self) -> dict[str, list[Grant]]:
        """Every user and their grants."""
        return {name: [Grant.from_json(g) for g in u["grants"]] for name, u in sorted(self._load()["users"].items())}

    def has_users(self) -> bool:
        return bool(self._load()["users"])

    def add_user(self, name: str, password: str, grant: Grant | None = None) -> None:
        check_name(name, "user")
        hashed = self._hash(password)
        with self._editing() as data:
            if name in data["users"]:
                raise AccountError(f"user {name!r} exists already")
            data["users"][name] = {"password": hashed, "grants": [grant.to_json()] if grant else [],
                                   "created": int(time.time())}

    def remove_user(self, name: str) -> None:
        with self._editing() as data:
            if data["users"].pop(name, None) is None:
                raise AccountError(f"no user {name!r}")
            data["api_keys"] = {k: v for k, v in data["api_keys"].items() if v["user"] != name}

    def set_password(self, name: str, password: str) -> None:
        hashed = self._hash(password)
        with self._editing() as data:
            self._user(data, name)["password"] = hashed

    def grant(self, name: str, grant: Grant) -> None:
        """Give ``grant``, replacing the user's grant on the same collection."""
        with self._editing() as data:
            user = self._user(data, name)
            user["grants"] = [g for g in user["grants"] if g["collection"] != grant.collection] + [grant.to_json()]

    def revoke(self, name: str, collection: str | None = None) -> None:
        """Take back the user's grant on ``collection`` (default: the global one)."""
        collection = collection or GLOBAL
        with self._editing() as data:
            user = self._user(data, name)
            kept = [g for g in user["grants"] if g["collection"] != collection]
            if len(kept) == len(user["grants"]):
                raise AccountError(f"user {name!r} has no grant on {collection!r}")
            user["grants"] = kept

    @staticmethod
    def _user(data: dict, name: str) -> dict:
        try:
            return data["users"][name]
        except KeyError:
            raise AccountError(f"no user {name!r}") from None

    def check_password(self, name: str, password: str) -> bool:
        """True if ``password`` is the user's; the same work is done for unknown users (no timing oracle)."""
        user = self._load()["users"].get(name) if isinstance(name, str) else None
        if user is None:
            self.hasher.verify(password, self._dummy_hash())
            return False
        return self.hasher.verify(password, user["password"])

    def _dummy_hash(self) -> str:
        if not hasattr(self, "_dummy"):
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def grants_of(self, name: str) -> dict[str, Grant] | None:
        """The user's grants by collection (GLOBAL for the global one); None for an unknown user."""
        user = self._load()["users"].get(name)
        if user is None:
            return None
        return {g["collection"]: Grant.from_json(g) for g in user["grants"]}

    # ---- API keys ----

    def create_key(self, user: str, label: str = "") -> tuple[str, str]:
        """A new API key acting as ``user``: (key id, the key — shown once, only its digest is kept)."""
        key_id = secrets.token_hex(6)
        secret = f"{_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        with self._editing() as data:
            self._user(data, user)
            data["api_keys"][key_id] = {"user": user, "digest": _digest(secret), "label": label,
                                        "created": int(time.time())}
        return key_id, secret

    def revoke_key(self, key_id: str) -> None:
        with self._editing() as data:
            if data["api_keys"].pop(key_id, None) is None:
                raise AccountError(f"no API key {key_id!r}")

    def keys(self) -> dict[str, dict]:
        """Key id → user, label, created (never the digest)."""
        return {k: {"user": v["user"], "label": v["label"], "created": v["created"]}
                for k, v in sorted(self._load()["api_keys"].items())}

    def user_of_key(self, key: str) -> str | None:
        """The user an API key acts as, or None if it is not a live key."""
        if not key.startswith(_KEY_PREFIX):
            return None
        key_id = key[len(_KEY_PREFIX):].split("_", 1)[0]
        entry = self._load()["api_keys"].get(key_id)
        if entry is None or not hmac.compare_digest(entry["digest"], _digest(key)):
            return None
        return entry["user"]

    # ---- the token signing secret ----

    def secret(self) -> str:
        """The store's own signing secret, created (0600) on first use."""
        path = self.path / _SECRET
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        value = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with open(fd, "w") as f:
            f.write(value + "\n")
        return value
