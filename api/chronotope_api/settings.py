"""Server settings: defaults, then a TOML file, then CHRONOTOPE_* environment variables, then the command line."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
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
    if kind is int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{source}: {name} must be an integer, got {value!r}") from None
        if name == "port" and not 0 < number < 65536:
            raise InvalidArgumentError(f"{source}: port must be 1-65535, got {number}")
        return number
    return str(value)


def load_settings(config: str | os.PathLike | None = None, environ=None, **overrides) -> Settings:
    """Settings from the TOML file ``config`` (or ``$CHRONOTOPE_CONFIG``), the environment and ``overrides``
    (None values are ignored); unknown TOML keys and bad values raise InvalidArgumentError.

    >>> load_settings(environ={"CHRONOTOPE_PORT": "9000"}, host="0.0.0.0").port
    9000
    """
    environ = os.environ if environ is None else environ
    kinds = {f.name: f.type if isinstance(f.type, type) else {"str": str, "int": int, "bool": bool}[f.type]
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
