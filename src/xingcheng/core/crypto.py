"""Field encryption at rest: SM4-GCM (GB/T 32907, as in RFC 8998), a rotating keyring, a column type.

* Stored form: ``v1:<key id>:<base64(nonce || ciphertext || tag)>`` — 12-byte random nonce,
  16-byte tag. The key id travels with the value, so old values stay readable after rotation.
* Associated data binds each value to ``v1``, its key id and its column (``table.column``): a
  ciphertext copied to another column, or to another key id, fails to decrypt.
* Keyring file: ``<data_dir>/keys/field-keys.json``, mode 0600 in a 0700 directory, created on
  first use; several keys with ids, one active. It is refused when others can read it.
  Random nonces are safe for about 2**32 values per key; rotate long before that.
* ``EncryptedString`` encrypts on bind and decrypts on result. Values cannot be compared in SQL
  (each encryption differs), so comparison operators raise instead of silently matching nothing;
  ``IS NULL`` works. Renaming a table or column changes the binding: pass ``aad="old.name"``.
* ``rotate_keys`` writes a new active key to the file first (durably), then re-encrypts every
  ``EncryptedString`` value in batches, one transaction per batch, each row updated only if it
  is unchanged since it was read. Re-running it finishes an interrupted rotation.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import Column, Table, Text, event
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from xingcheng.core.db import Base, Database, utcnow
from xingcheng.core.errors import XingchengError
from xingcheng.core.settings import get_settings

VERSION = "v1"
KEY_BYTES, NONCE_BYTES, TAG_BYTES = 16, 12, 16
KEY_FILE = Path("keys") / "field-keys.json"
_FILE_FORMAT = "xingcheng-field-keys/1"


class FieldCryptoError(XingchengError):
    status, title, slug = 500, "Field encryption error", "field-crypto"


class FieldDecryptionError(FieldCryptoError):
    """A stored value that does not decrypt: damaged, moved between columns, or its key is gone."""

    title, slug = "Stored value failed its integrity check", "field-decryption-failed"


def sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """SM4-GCM sealing: ``ciphertext || 16-byte tag``."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """SM4-GCM opening; raises ``cryptography.exceptions.InvalidTag`` when anything was altered."""
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-TAG_BYTES:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(sealed[:-TAG_BYTES]) + decryptor.finalize()


def _aad(key_id: str, binding: str) -> bytes:
    return f"xingcheng-field|{VERSION}|{key_id}|{binding}".encode()


@dataclass(frozen=True)
class FieldKey:
    key_id: str
    secret: bytes = field(repr=False)
    created_at: datetime


@dataclass(frozen=True)
class Keyring:
    """Immutable: rotation builds a new keyring, so readers never see a half-changed one."""

    keys: Mapping[str, FieldKey]
    active_id: str

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise FieldCryptoError(f"the active key {self.active_id!r} is not in the keyring")
        for key in self.keys.values():
            if not key.key_id.isascii() or not key.key_id.replace("-", "").replace("_", "").isalnum():
                raise FieldCryptoError(f"key id {key.key_id!r} must be ASCII letters, digits, '-' or '_'")
            if len(key.secret) != KEY_BYTES:
                raise FieldCryptoError(f"key {key.key_id!r} is {len(key.secret)} bytes; SM4 keys are {KEY_BYTES}")

    @classmethod
    def generate(cls) -> Keyring:
        key = FieldKey("k1", secrets.token_bytes(KEY_BYTES), utcnow())
        return cls({key.key_id: key}, key.key_id)

    def with_new_key(self) -> Keyring:
        """This keyring plus a fresh key (``k<n+1>``) that becomes the active one."""
        numbers = [int(k[1:]) for k in self.keys if k[:1] == "k" and k[1:].isdigit()]
        key = FieldKey(f"k{max(numbers, default=0) + 1}", secrets.token_bytes(KEY_BYTES), utcnow())
        return Keyring({**self.keys, key.key_id: key}, key.key_id)

    @property
    def active(self) -> FieldKey:
        return self.keys[self.active_id]

    def encrypt(self, plaintext: str, *, binding: str) -> str:
        key, nonce = self.active, secrets.token_bytes(NONCE_BYTES)
        sealed = sm4_gcm_encrypt(key.secret, nonce, plaintext.encode(), _aad(key.key_id, binding))
        return f"{VERSION}:{key.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, binding: str) -> str:
        version, _, rest = token.partition(":")
        key_id, _, payload = rest.partition(":")
        if version != VERSION or not key_id or not payload:
            raise FieldDecryptionError(f"the value in {binding} is not a field ciphertext ('{VERSION}:<key id>:<base64>')")
        key = self.keys.get(key_id)
        if key is None:
            raise FieldDecryptionError(
                f"the value in {binding} was encrypted with key {key_id!r}, which is not in the keyring "
                f"(known: {', '.join(sorted(self.keys))})"
            )
        try:
            raw = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise FieldDecryptionError(f"the value in {binding} is damaged: its payload is not valid base64") from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise FieldDecryptionError(f"the value in {binding} is damaged: {len(raw)} bytes is too short to be sealed")
        try:
            plain = sm4_gcm_decrypt(key.secret, raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(key_id, binding))
        except InvalidTag:
            raise FieldDecryptionError(
                f"the value in {binding} failed authentication: it was altered, copied from another column, "
                f"or key {key_id!r} is not the key it was sealed with"
            ) from None
        return plain.decode()

    def to_json(self) -> str:
        keys = [{"id": k.key_id, "key": base64.b64encode(k.secret).decode(), "created_at": k.created_at.isoformat()}
                for k in self.keys.values()]
        return json.dumps({"format": _FILE_FORMAT, "algorithm": "SM4-GCM", "active": self.active_id, "keys": keys}, indent=2)

    @classmethod
    def from_json(cls, text: str, *, source: str = "keyring") -> Keyring:
        try:
            data = json.loads(text)
            if data.get("format") != _FILE_FORMAT:
                raise FieldCryptoError(f"{source} is not a {_FILE_FORMAT} file")
            keys = {k["id"]: FieldKey(k["id"], base64.b64decode(k["key"], validate=True), datetime.fromisoformat(k["created_at"]))
                    for k in data["keys"]}
            return cls(keys, data["active"])
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise FieldCryptoError(f"{source} is not a readable keyring: {exc}") from None


def keyring_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


class KeyringFile:
    """The keyring on disk: created on first use, replaced atomically, re-read when it changes."""

    # How long a read keyring is trusted without a stat() of its file. Decrypting thousands of values a
    # second must not stat the file for each; a value sealed with a key we have not seen yet forces a
    # fresh look (see EncryptedString), so a rotation elsewhere is picked up at once where it matters.
    CHECK_INTERVAL = 1.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int] | None, Keyring] | None = None
        self._checked_at = 0.0

    def _write_new(self, keyring: Keyring) -> Path:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())  # keys must reach the disk before any value sealed with them
        return temp

    def _sync_dir(self) -> None:
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self) -> Keyring:
        """The keyring in the file, which is created with one fresh key when missing."""
        if not self.path.exists():
            temp = self._write_new(Keyring.generate())
            try:
                os.link(temp, self.path)  # fails if another process created it first: theirs wins
                self._sync_dir()
            except FileExistsError:
                pass
            finally:
                temp.unlink()
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise FieldCryptoError(f"{self.path} is readable by others (mode {mode:o}); make it 600")
        return Keyring.from_json(self.path.read_text(), source=str(self.path))

    def save(self, keyring: Keyring) -> None:
        temp = self._write_new(keyring)
        temp.replace(self.path)
        self._sync_dir()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def current(self, *, fresh: bool = False) -> Keyring:
        """The file's keyring, re-read only when its inode, size or mtime changed (a rotation); the file
        is looked at again after ``CHECK_INTERVAL`` seconds, or now when ``fresh``."""
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and not fresh and now - self._checked_at < self.CHECK_INTERVAL:
                return self._cached[1]
            stamp = self._stamp()  # taken before reading: a change during the read shows next time
            if self._cached is None or stamp != self._cached[0]:
                keyring = self.load()
                self._cached = (stamp if stamp is not None else self._stamp(), keyring)
            self._checked_at = now
            return self._cached[1]

    def add_key(self) -> tuple[Keyring, Keyring]:
        """Append a new active key; an exclusive lock keeps two rotations from each writing a "k2"."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (self.path.parent / f".{self.path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            previous = self.load()
            keyring = previous.with_new_key()
            self.save(keyring)
        with self._lock:
            self._cached = None  # this process encrypts with the new key from now on
        return previous, keyring


_files: dict[Path, KeyringFile] = {}
_override: Keyring | KeyringFile | None = None


def current_keyring(*, fresh: bool = False) -> Keyring:
    """The process's keyring: an override set with ``use_keyring``, else the data dir's file (``fresh``:
    look at the file now rather than trust a read of the last second)."""
    if isinstance(_override, Keyring):
        return _override
    if isinstance(_override, KeyringFile):
        return _override.current(fresh=fresh)
    path = keyring_path(get_settings().data_dir)
    source = _files.get(path) or _files.setdefault(path, KeyringFile(path))
    return source.current(fresh=fresh)


@contextmanager
def use_keyring(source: Keyring | KeyringFile) -> Iterator[None]:
    """Make ``source`` the keyring of ``EncryptedString`` columns inside the block (tests, tools)."""
    global _override
    previous, _override = _override, source
    try:
        yield
    finally:
        _override = previous


_NO_SQL_COMPARISON = frozenset({
    operators.eq, operators.ne, operators.lt, operators.le, operators.gt, operators.ge, operators.like_op,
    operators.not_like_op, operators.ilike_op, operators.not_ilike_op, operators.in_op, operators.not_in_op,
    operators.startswith_op, operators.endswith_op, operators.contains_op, operators.between_op, operators.not_between_op,
})


class EncryptedString(TypeDecorator[str]):
    """A text column stored SM4-GCM encrypted, bound to its ``table.column`` (or an explicit ``aad``)."""

    impl = Text
    cache_ok = True

    def __init__(self, aad: str | None = None) -> None:
        super().__init__()
        self.aad = aad

    class comparator_factory(TypeDecorator.Comparator[str]):  # SQLAlchemy's hook name
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in _NO_SQL_COMPARISON:
                raise FieldCryptoError(
                    "an encrypted column cannot be compared in SQL (every value is sealed with a fresh nonce); "
                    "load and compare in Python, or keep a separate keyed hash for look-ups"
                )
            return super().operate(op, *other, **kwargs)

    def _binding(self) -> str:
        if self.aad is None:
            raise FieldCryptoError("EncryptedString is used outside a table column; give it aad='table.column'")
        return self.aad

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"an encrypted column takes str, not {type(value).__name__}")
        return current_keyring().encrypt(value, binding=self._binding())

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        keyring = current_keyring()
        try:
            return keyring.decrypt(value, binding=self._binding())
        except FieldDecryptionError:
            latest = current_keyring(fresh=True)  # perhaps sealed with a key rotated in a moment ago
            if latest is keyring:
                raise
            return latest.decrypt(value, binding=self._binding())


@event.listens_for(Column, "after_parent_attach")
def _bind_to_column(column: Column[Any], parent: Any) -> None:
    # Each column gets its own type instance carrying its name, so one shared EncryptedString()
    # in several columns still seals each value to the column it is stored in.
    if isinstance(parent, Table) and isinstance(column.type, EncryptedString) and column.type.aad is None:
        column.type = EncryptedString(aad=f"{parent.name}.{column.name}")


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------


@dataclass
class ColumnRotation:
    table: str
    column: str
    values: int = 0  # non-null values in the column when the pass started
    already_current: int = 0  # sealed with the active key before the pass
    reencrypted: int = 0
    changed_concurrently: int = 0  # rewritten by someone else between read and update: left alone
    failed: int = 0  # did not decrypt (see failures)


@dataclass
class RotationReport:
    key_file: str
    previous_key_id: str
    active_key_id: str
    columns: list[ColumnRotation]
    failures: list[str] = field(default_factory=list)

    @property
    def reencrypted(self) -> int:
        return sum(c.reencrypted for c in self.columns)

    def as_dict(self) -> dict[str, Any]:
        return {"key_file": self.key_file, "previous_key_id": self.previous_key_id, "active_key_id": self.active_key_id,
                "reencrypted": self.reencrypted, "columns": [vars(c) for c in self.columns], "failures": self.failures}


def encrypted_columns(metadata: sa.MetaData) -> dict[Table, list[Column[Any]]]:
    """Every ``EncryptedString`` column in ``metadata``, by table (tables need a primary key)."""
    found: dict[Table, list[Column[Any]]] = {}
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if columns:
            if not table.primary_key.columns:
                raise FieldCryptoError(f"table {table.name} has encrypted columns but no primary key to rotate them by")
            found[table] = columns
    return found


Progress = Callable[[str, int, int], None]
MAX_LISTED_FAILURES = 100


def _binding_of(column: Column[Any]) -> str:
    assert isinstance(column.type, EncryptedString)
    return column.type._binding()


def _rotate_table(engine: sa.Engine, keyring: Keyring, table: Table, columns: Sequence[Column[Any]], *,
                  batch_size: int, progress: Progress | None, failures: list[str]) -> list[ColumnRotation]:
    raw = [sa.type_coerce(c, Text) for c in columns]  # the ciphertext as stored, bypassing the type
    pk, prefix = list(table.primary_key.columns), f"{VERSION}:{keyring.active_id}:"
    stats = [ColumnRotation(table.name, c.name) for c in columns]
    with engine.connect() as conn:
        counts = conn.execute(sa.select(*[f for r in raw for f in (
            sa.func.count(r), sa.func.count(r).filter(r.startswith(prefix, autoescape=True)))])).one()
    for i, stat in enumerate(stats):
        stat.values, stat.already_current = counts[2 * i], counts[2 * i + 1]
    todo, done, last = sum(s.values - s.already_current for s in stats), 0, None
    stale = sa.or_(*[sa.and_(r.is_not(None), ~r.startswith(prefix, autoescape=True)) for r in raw])
    # Compare-and-swap: a row rewritten by someone else since it was read is counted, not overwritten.
    cas = sa.update(table).where(
        *[k == sa.bindparam(f"pk{i}", type_=k.type) for i, k in enumerate(pk)],
        *[r.is_not_distinct_from(sa.bindparam(f"old{j}", type_=Text)) for j, r in enumerate(raw)],
    ).values({c.name: sa.bindparam(f"new{j}", type_=Text) for j, c in enumerate(columns)})
    while True:
        with engine.begin() as conn:  # one transaction per batch: short locks, and a crash loses one batch
            query = sa.select(*pk, *raw).where(stale).order_by(*pk).limit(batch_size)
            if last is not None:
                query = query.where(sa.tuple_(*pk) > sa.tuple_(*last) if len(pk) > 1 else pk[0] > last[0])
            rows = conn.execute(query).all()
            if not rows:
                break
            last = tuple(rows[-1][: len(pk)])
            for row in rows:
                keys, olds = row[: len(pk)], row[len(pk):]
                param = {f"pk{i}": v for i, v in enumerate(keys)} | {f"old{j}": v for j, v in enumerate(olds)}
                changed = []
                for j, (column, old) in enumerate(zip(columns, olds, strict=True)):
                    new = old
                    if old is not None and not old.startswith(prefix):
                        done += 1
                        try:
                            new = keyring.encrypt(keyring.decrypt(old, binding=_binding_of(column)), binding=_binding_of(column))
                            changed.append(j)
                        except FieldDecryptionError as exc:
                            stats[j].failed += 1
                            if len(failures) < MAX_LISTED_FAILURES:  # counted all; listed enough to act on
                                failures.append(f"{table.name} {dict(zip([k.name for k in pk], keys, strict=True))}: {exc.detail}"
                                )
                    param[f"new{j}"] = new
                if changed:
                    hit = conn.execute(cas, param).rowcount == 1
                    for j in changed:
                        stats[j].reencrypted += hit
                        stats[j].changed_concurrently += not hit
        if progress is not None:
            progress(table.name, done, todo)
    return stats


def reencrypt(engine: sa.Engine, keyring: Keyring, *, metadata: sa.MetaData | None = None, batch_size: int = 1000,
              progress: Progress | None = None, failures: list[str] | None = None) -> list[ColumnRotation]:
    """Re-seal every ``EncryptedString`` value not under ``keyring``'s active key with that key."""
    failures = [] if failures is None else failures
    results: list[ColumnRotation] = []
    for table, columns in encrypted_columns(metadata if metadata is not None else Base.metadata).items():
        results += _rotate_table(engine, keyring, table, columns, batch_size=batch_size, progress=progress, failures=failures)
    return results


def rotate_keys(engine: sa.Engine, keys: KeyringFile, *, metadata: sa.MetaData | None = None, batch_size: int = 1000,
                progress: Progress | None = None) -> RotationReport:
    """Add a new active key to ``keys`` (saved before any value uses it) and re-encrypt everything."""
    previous, keyring = keys.add_key()
    failures: list[str] = []
    columns = reencrypt(engine, keyring, metadata=metadata, batch_size=batch_size, progress=progress, failures=failures)
    return RotationReport(str(keys.path), previous.active_id, keyring.active_id, columns, failures)


def rotate_field_keys(database: Database, data_dir: Path, *, batch_size: int = 1000,
                      progress: Progress | None = None) -> RotationReport:
    """``xingcheng keys rotate``: import every model module first, so ``Base.metadata`` knows all tables."""
    path = keyring_path(data_dir)
    keys = _files.setdefault(path, KeyringFile(path))  # shared, so this process's columns see the new key
    return rotate_keys(database.engine, keys, batch_size=batch_size, progress=progress)
