"""Server settings: defaults, then a TOML file, then CHRONOTOPE_* environment variables, then the command line."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from chronotope.errors import InvalidArgumentError

__all__ = ["Settings", "load_settings"]

ENV_PREFIX = "CHRONOTOPE_"


@dataclass(frozen=True)
class Settings:
    """What ``chronotope serve`` runs with (every field: ``CHRONOTOPE_<FIELD>`` or the TOML key ``<field>``)."""

    store: str = "chronotope-store"  # store directory, created if missing
    host: str = "127.0.0.1"  # address to listen on
    port: int = 8000  # TCP port
    demo: bool = False  # load the bundled real AIS sample into an empty store first
    secret: str = field(default="", repr=False)  # token signing secret (>= 32 characters); empty: the store's own
    token_ttl: int = 900  # lifetime of access tokens, seconds
    rate_limit: str = "1000/minute"  # per principal and per client address, e.g. 100/second; "off" disables
    login_rate_limit: str = "20/minute"  # POST /auth/token per client address and user name
    max_body: int = 256 * 1024 * 1024  # largest request body, bytes (413 beyond)
    request_timeout: float = 60.0  # seconds a request may take until its response starts (503 beyond)
    cache_bytes: int = 512 * 1024 * 1024  # the store's decoded-block cache
    json_max_rows: int = 100_000  # rows a JSON answer may hold (406 beyond: ask for NDJSON, Arrow or CSV)
    json_max_cells: int = 1_000_000  # cells an aggregate grid may hold (400 beyond)


def _convert(name: str, kind: type, value, source: str):
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise InvalidArgumentError(f"{source}: {name} must be true or false, got {value!r}")
    if kind in (int, float):
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{source}: {name} must be {'an integer' if kind is int else 'a number'}, "
                                       f"got {value!r}") from None
        if name == "port" and not 0 < number < 65536:
            raise InvalidArgumentError(f"{source}: port must be 1-65535, got {number}")
        if name != "port" and not number > 0 and not (name == "cache_bytes" and number == 0):
            raise InvalidArgumentError(f"{source}: {name} must be positive, got {value!r}")
        return number
    text = str(value)
    if name in ("rate_limit", "login_rate_limit") and text != "off":
        from limits import parse_many

        try:
            parse_many(text)
        except ValueError:
            raise InvalidArgumentError(f"{source}: {name} must look like 1000/minute or 10/second, got {text!r}") from None
    if name == "secret" and text and len(text) < 32:
        raise InvalidArgumentError(f"{source}: secret is too short ({len(text)} characters); use at least 32, e.g. "
                                   "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    return text


def load_settings(config: str | os.PathLike | None = None, environ=None, **overrides) -> Settings:
    """Settings from the TOML file ``config`` (or ``$CHRONOTOPE_CONFIG``), the environment and ``overrides``
    (None values are ignored); unknown TOML keys and bad values raise InvalidArgumentError.

    >>> load_settings(environ={"CHRONOTOPE_PORT": "9000"}, host="0.0.0.0").port
    9000
    """
    environ = os.environ if environ is None else environ
    kinds = {f.name: f.type if isinstance(f.type, type) else {"str": str, "int": int, "bool": bool, "float": float}[f.type]
             for f in fields(Settings)}
    values: dict = {}
    path = config or environ.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgumentError(f"config file {path}: {exc}") from None
        unknown = sorted(set(data) - set(kinds))
        if unknown:
            raise InvalidArgumentError(f"config file {path}: unknown setting(s) {unknown}; known: {sorted(kinds)}")
        values.update({k: _convert(k, kinds[k], v, f"config file {path}") for k, v in data.items()})
    for name, kind in kinds.items():
        if ENV_PREFIX + name.upper() in environ:
            values[name] = _convert(name, kind, environ[ENV_PREFIX + name.upper()], ENV_PREFIX + name.upper())
    values.update({k: _convert(k, kinds[k], v, "--" + k) for k, v in overrides.items() if v is not None})
    return Settings(**values)
