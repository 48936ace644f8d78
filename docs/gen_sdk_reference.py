#!/usr/bin/env python3
"""Write docs/sdk-reference.md: the SDK's public names with their signatures and docstrings.

Run ``python docs/gen_sdk_reference.py`` after changing a docstring of
``chronotope.client``; tests/test_docs.py fails while the page is out of date.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "sdk-reference.md"
HEADER = """# SDK reference

Generated from the docstrings of `chronotope.client` by `python docs/gen_sdk_reference.py`;
do not edit by hand. The guide is [sdk.md](sdk.md).
"""


def _doc(obj, *fallbacks) -> str:
    """The docstring, else the first fallback's (async twins and remote classes share their model's)."""
    for candidate in (obj, *fallbacks):
        if candidate is not None and candidate.__doc__:
            return inspect.cleandoc(candidate.__doc__)
    return "(no description)"


def _models(cls) -> list:
    """The classes whose members a remote or async class mirrors, nearest first."""
    import chronotope
    import chronotope.client as client

    twins = {"AsyncRemoteStore": [client.RemoteStore, chronotope.Store],
             "AsyncRemoteCollection": [client.RemoteCollection, chronotope.Collection],
             "RemoteStore": [chronotope.Store], "RemoteCollection": [chronotope.Collection],
             "AsyncTransport": [client.Transport]}
    return twins.get(cls.__name__, [])


def _signature(name: str, obj) -> str:
    try:
        return f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name


def _documented_base(cls):
    """The nearest base class the page documents on its own (its members are not repeated), or None."""
    import chronotope.client as client

    return next((k for k in cls.__mro__[1:] if k.__name__ in client.__all__), None)


def _members(cls) -> list[tuple[str, object]]:
    """Public methods and properties of the class and its SDK bases up to a documented one, in source order."""
    out, seen = [], set()
    stop = _documented_base(cls)
    own = [k for k in cls.__mro__[:cls.__mro__.index(stop) if stop else None]
           if k.__module__.startswith("chronotope.client")]
    for name, member in ((n, m) for klass in own for n, m in klass.__dict__.items()):
        if name in seen:
            continue
        seen.add(name)
        if name.startswith("_") and name != "__len__":
            continue
        if isinstance(member, property) or inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod)):
            out.append((name, member))
    return out


def render() -> str:
    import chronotope.client as client

    parts = [HEADER]
    for name in client.__all__:
        obj = getattr(client, name)
        kind = "class" if inspect.isclass(obj) else "function"
        parts.append(f"\n## `{name}` ({kind})\n\n```python\n{_signature(name, obj)}\n```\n\n{_doc(obj)}\n")
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            base = _documented_base(obj)
            if base is not None:
                parts.append(f"\nAlso every member of [`{base.__name__}`](#{base.__name__.lower()}-class).\n")
            models = _models(obj)
            for member_name, member in _members(obj):
                twins = [getattr(model, member_name, None) for model in models]
                if isinstance(member, property):
                    parts.append(f"\n### `{name}.{member_name}` (property)\n\n{_doc(member, *twins)}\n")
                else:
                    fn = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                    parts.append(f"\n### `{name}.{_signature(member_name, fn)}`\n\n{_doc(fn, *twins)}\n")
    return "".join(parts)


def main() -> int:
    PAGE.write_text(render())
    print(f"wrote {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
