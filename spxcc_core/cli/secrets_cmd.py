"""``spxcc secrets``: store, list, rotate and delete encrypted broker credentials.

Values are read from stdin (or a hidden prompt on a terminal), never from the command line,
and never printed. The master key comes from ``--key-file PATH`` or ``$SPXCC_MASTER_KEY``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TextIO

import msgspec

from spxcc_core.cli.parser import SafeArgumentParser
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.outputs import check_paths
from spxcc_core.secrets import (
    MasterKeySource,
    SecretInfo,
    Vault,
    check_env_var_name,
    env_var_label,
    generate_master_key_text,
    parse_master_key,
    read_key_file,
    validate_secret_name,
    write_key_file,
)
from spxcc_core.secrets.keys import MasterKey
from spxcc_core.secrets.vault import MAX_VALUE_BYTES
from spxcc_core.store import Store
from spxcc_core.store.existing import StoreRef
from spxcc_core.store.target import db_argument, store_file

__all__ = ["register"]

_list_encoder = msgspec.json.Encoder(order="deterministic")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = SafeArgumentParser(add_help=False)
    db.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                    help="store: an SQLite file or a postgresql:// URL (default: $SPXCC_DB or "
                         "the user data folder)")
    key = SafeArgumentParser(add_help=False)
    key.add_argument("--key-file", type=Path, default=None,
                     help="master key file, mode 0600 (default: $SPXCC_MASTER_KEY)")
    key.add_argument("--previous-key-file", type=Path, default=None,
                     help="previous master key during a rotation "
                          "(default: $SPXCC_MASTER_KEY_PREVIOUS)")

    p = sub.add_parser("secrets", help="encrypted broker credentials",
                       description="Store broker credentials encrypted at rest.")
    ssub = p.add_subparsers(dest="secrets_command", metavar="ACTION")
    ssub.required = True

    s = ssub.add_parser("set", parents=[db, key], help="store a secret read from stdin",
                        description="Store NAME; the value is read from stdin (or a hidden "
                                    "prompt on a terminal), never from the command line.")
    s.add_argument("name", metavar="NAME")
    s.set_defaults(func=_run_set)

    ls = ssub.add_parser("list", parents=[db], help="list secret names and key ids (no values)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_run_list)

    r = ssub.add_parser("rotate", parents=[db, key],
                        help="re-wrap every data key under a new master key")
    new = r.add_mutually_exclusive_group(required=True)
    new.add_argument("--new-key-file", type=Path, help="the new master key file (mode 0600)")
    new.add_argument("--new-key-env", metavar="VAR",
                     help="environment variable holding the new master key")
    new.add_argument("--finish", action="store_true",
                     help="drop the wrappings under the previous key (run with the new key)")
    r.set_defaults(func=_run_rotate)

    d = ssub.add_parser("delete", parents=[db], help="delete a secret")
    d.add_argument("name", metavar="NAME")
    d.set_defaults(func=_run_delete)

    k = ssub.add_parser("keygen", help="create a new master key (file mode 0600)")
    k.add_argument("--out", type=Path, default=None,
                   help="write the key to this new file (default: print it on stdout)")
    k.set_defaults(func=_run_keygen)


def _store(args: argparse.Namespace, *, read_only: bool = False) -> Store:
    """The store of ``--db``: created when missing, unless ``read_only`` (then a missing file
    is refused, one line)."""
    ref = StoreRef.of(args.db)
    check_paths({"--db": store_file(ref.target)},
                {f"--{name.replace('_', '-')}": getattr(args, name, None)
                 for name in ("key_file", "previous_key_file", "new_key_file")})
    if read_only:
        ref.require("spxcc secrets list never creates one; spxcc secrets set does")
    return Store(ref.target)


def _key_source(args: argparse.Namespace) -> MasterKeySource:
    return MasterKeySource.from_env_or_file(args.key_file,
                                            previous_key_file=args.previous_key_file)


def _read_value(name: str) -> str:
    stdin = sys.stdin
    if stdin is None:
        raise InputError("stdin", "not available; pipe the secret value in")
    if stdin.isatty():
        text = getpass.getpass(f"value for secret {name!r} (input hidden): ")
    else:
        text = _read_piped(stdin, name)
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
    if not text:
        raise InputError("stdin", f"no value given for secret {name!r} (pipe it in, e.g. "
                         f"`printenv TOKEN | spxcc secrets set {name}`)")
    return text


def _read_piped(stdin: TextIO, name: str) -> str:
    """The piped value, decoded as UTF-8 whatever the locale (the bytes when the stream has
    them). :raises InputError: not UTF-8 (the message shows no byte of it)."""
    buffer = getattr(stdin, "buffer", None)
    try:
        if buffer is not None:
            raw: bytes = buffer.read(MAX_VALUE_BYTES + 3)
            return raw.decode("utf-8")
        return stdin.read(MAX_VALUE_BYTES + 3)
    except UnicodeDecodeError:
        raise InputError("stdin", f"the value for secret {name!r} is not UTF-8 text (the value "
                         "is not shown)") from None


def _run_set(args: argparse.Namespace) -> int:
    name = validate_secret_name(args.name)
    keyring = _key_source(args).keyring()
    value = _read_value(name)
    with _store(args) as store:
        info = Vault(store, keyring).put(name, value)
    extra = (f" and {info.previous_master_key_id}" if info.previous_master_key_id else "")
    print(f"stored secret {name!r} version {info.version} under master key "
          f"{info.master_key_id}{extra}")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    with _store(args, read_only=True) as store:
        infos = Vault(store).list()
    if args.json:
        sys.stdout.write(_list_encoder.encode(infos).decode("utf-8") + "\n")
        return 0
    if not infos:
        print("no secrets stored")
        return 0
    _print_table(infos)
    return 0


def _print_table(infos: list[SecretInfo]) -> None:
    header = ("NAME", "VERSION", "MASTER KEY", "PREVIOUS KEY", "CREATED", "UPDATED")
    rows = [header] + [(i.name, str(i.version), i.master_key_id,
                        i.previous_master_key_id or "-", i.created_at, i.updated_at)
                       for i in infos]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def _new_key(args: argparse.Namespace) -> MasterKey:
    if args.new_key_file is not None:
        return read_key_file(args.new_key_file)
    var = check_env_var_name("--new-key-env", args.new_key_env)
    text = os.environ.get(var)
    if not text:
        raise ConfigError(f"--new-key-env: {env_var_label(var)} is not set")
    return parse_master_key(text, source=env_var_label(var))


def _run_rotate(args: argparse.Namespace) -> int:
    keyring = _key_source(args).keyring()
    with _store(args) as store:
        vault = Vault(store, keyring)
        if args.finish:
            changed = vault.finish_rotation()
            print(f"rotation finished: {changed} secret(s) no longer wrapped under a previous "
                  f"key; only master key {keyring.current.key_id} opens the vault")
            return 0
        new_key = _new_key(args)
        report = vault.rotate(new_key)
        infos = vault.list()
    print(f"re-wrapped {len(report.rewrapped)} secret(s) under master key {report.new_key_id} "
          f"({len(report.already_current)} already under it); "
          + _who_opens(infos, keyring.current.key_id, report.new_key_id))
    if report.remaining:
        print(f"spxcc: warning: {len(report.remaining)} secret(s) were written under another "
              f"key during the rotation ({', '.join(map(repr, report.remaining))}); "
              "run the rotation again", file=sys.stderr)
        return 1
    return 0


def _who_opens(infos: list[SecretInfo], old: str, new: str) -> str:
    """What opens the secrets after a rotation to ``new`` run with ``old`` as the current key,
    read from the stored wrappings (never assumed)."""
    total = len(infos)

    def opens(key_id: str) -> str:
        n = sum(1 for i in infos if key_id in (i.master_key_id, i.previous_master_key_id))
        return "them" if n == total else ("none of them" if n == 0 else f"{n} of the {total}")

    if total == 0:
        return "there are no secrets"
    if old == new:
        return f"master key {new} opens {opens(new)}"
    finish = "until `spxcc secrets rotate --finish` is run with the new key"
    by_new = "" if opens(new) == "them" else f"; master key {new} opens {opens(new)}"
    if opens(old) != "none of them":
        return f"master key {old} still opens {opens(old)} {finish}{by_new}"
    others = sorted({i.previous_master_key_id for i in infos
                     if i.previous_master_key_id not in (None, old, new)})
    also = "".join(f"; master key {k} opens {opens(k)} {finish}" for k in others if k)
    return f"master key {old} opens none of them; master key {new} opens {opens(new)}{also}"


def _run_delete(args: argparse.Namespace) -> int:
    with _store(args) as store:
        Vault(store).delete(args.name)
    print(f"deleted secret {args.name!r}")
    return 0


def _run_keygen(args: argparse.Namespace) -> int:
    text = generate_master_key_text()
    key_id = parse_master_key(text, source="new key").key_id
    if args.out is None:
        sys.stdout.write(text + "\n")
        print(f"master key id {key_id}", file=sys.stderr)
        return 0
    write_key_file(args.out, text)
    print(f"wrote master key {key_id} to {args.out} (mode 0600)")
    return 0
