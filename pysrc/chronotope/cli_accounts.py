"""``chronotope user`` and ``chronotope apikey``: the REST API's accounts, kept in the store (server extra)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from chronotope.errors import ChronotopeError

__all__ = ["add_commands"]


def _accounts(args):
    try:
        from chronotope_api.accounts import Accounts
        from chronotope_api.settings import load_settings
    except ImportError as exc:
        raise ChronotopeError(f"accounts need the server extra: pip install 'chronotope[server]' ({exc})") from None
    return Accounts(load_settings(None, store=args.store).store)


def _password(prompt: str = "password: ") -> str:
    if not sys.stdin.isatty():  # scripts pipe it in: the first line
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("again: ") != first:
        raise ChronotopeError("the passwords differ")
    return first


def _grant(args):
    from chronotope_api.accounts import Grant
    from chronotope_api.params import bbox, datetime_interval

    polygon = None
    if args.polygon:
        geo = json.loads(Path(args.polygon).read_text())
        polygon = geo.get("geometry", geo) if isinstance(geo, dict) else geo
    return Grant.make(args.role, args.collection, bbox=bbox(args.bbox), polygon=polygon,
                      time=datetime_interval(args.time))


def _describe(grant) -> str:
    from chronotope_api.params import iso

    text = f"{grant.role} on {'every collection' if grant.collection == '*' else grant.collection}"
    if grant.polygon is not None:
        text += f", inside a polygon within {list(grant.bbox)}"
    elif grant.bbox is not None:
        text += f", inside {list(grant.bbox)}"
    if grant.time is not None:
        text += f", from {iso(grant.time[0])} to {iso(grant.time[1])}"
    return text


def _user_add(args) -> int:
    accounts = _accounts(args)
    accounts.add_user(args.name, _password(), _grant(args))
    print(f"added user {args.name!r}: {_describe(accounts.grants_of(args.name)[args.collection or '*'])}")
    return 0


def _user_remove(args) -> int:
    _accounts(args).remove_user(args.name)
    print(f"removed user {args.name!r} and their API keys")
    return 0


def _user_grant(args) -> int:
    accounts = _accounts(args)
    grant = _grant(args)
    accounts.grant(args.name, grant)
    print(f"user {args.name!r}: {_describe(grant)}")
    return 0


def _user_revoke(args) -> int:
    _accounts(args).revoke(args.name, args.collection)
    print(f"user {args.name!r}: grant on {args.collection or 'every collection'} revoked")
    return 0


def _user_passwd(args) -> int:
    _accounts(args).set_password(args.name, _password("new password: "))
    print(f"user {args.name!r}: password changed")
    return 0


def _user_list(args) -> int:
    for name, grants in _accounts(args).users().items():
        print(f"{name}: " + ("; ".join(_describe(g) for g in grants) or "no grants"))
    return 0


def _key_create(args) -> int:
    key_id, key = _accounts(args).create_key(args.user, args.label or "")
    print(f"API key {key_id} for user {args.user!r} (shown once, keep it secret):\n{key}")
    return 0


def _key_revoke(args) -> int:
    _accounts(args).revoke_key(args.key_id)
    print(f"API key {args.key_id} revoked")
    return 0


def _key_list(args) -> int:
    for key_id, info in _accounts(args).keys().items():
        print(f"{key_id}  user {info['user']}  {info['label']}")
    return 0


def add_commands(sub) -> None:
    """The ``user`` and ``apikey`` command groups on the CLI's subparsers."""
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", help="store directory (env CHRONOTOPE_STORE; default ./chronotope-store)")
    limits = argparse.ArgumentParser(add_help=False)
    limits.add_argument("--role", required=True, choices=["reader", "writer", "admin"])
    limits.add_argument("--collection", help="the collection the grant is for (default: every collection)")
    limits.add_argument("--bbox", help="limit to a region: --bbox=minLon,minLat,maxLon,maxLat")
    limits.add_argument("--polygon", help="limit to a region: a GeoJSON Polygon/MultiPolygon (or Feature) file")
    limits.add_argument("--time", help="limit to a time window: START/END in RFC 3339, '..' for an open end")

    user = sub.add_parser("user", help="REST API users, roles and grants").add_subparsers(dest="action", required=True)
    q = user.add_parser("add", parents=[store, limits], help="add a user (password from stdin when not a terminal)")
    q.add_argument("name")
    q.set_defaults(func=_user_add)
    q = user.add_parser("remove", parents=[store], help="remove a user and their API keys")
    q.add_argument("name")
    q.set_defaults(func=_user_remove)
    q = user.add_parser("grant", parents=[store, limits], help="give a role (replaces the grant on that collection)")
    q.add_argument("name")
    q.set_defaults(func=_user_grant)
    q = user.add_parser("revoke", parents=[store], help="take back the grant on a collection (default: the global one)")
    q.add_argument("name")
    q.add_argument("--collection")
    q.set_defaults(func=_user_revoke)
    q = user.add_parser("passwd", parents=[store], help="change a user's password")
    q.add_argument("name")
    q.set_defaults(func=_user_passwd)
    q = user.add_parser("list", parents=[store], help="users and their grants")
    q.set_defaults(func=_user_list)

    key = sub.add_parser("apikey", help="API keys for machines").add_subparsers(dest="action", required=True)
    q = key.add_parser("create", parents=[store], help="a new key acting as a user (printed once)")
    q.add_argument("--user", required=True)
    q.add_argument("--label", help="a note on what the key is for")
    q.set_defaults(func=_key_create)
    q = key.add_parser("revoke", parents=[store], help="revoke a key by its id")
    q.add_argument("key_id")
    q.set_defaults(func=_key_revoke)
    q = key.add_parser("list", parents=[store], help="key ids, users and labels")
    q.set_defaults(func=_key_list)
