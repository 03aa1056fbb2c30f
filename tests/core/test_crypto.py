"""Field encryption: SM4 against GB/T 32907 and gmssl, SM4-GCM against RFC 8998 and a GCM built
here from gmssl's block cipher, the keyring file, the column type, and key rotation."""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl.sm4 import SM4_ENCRYPT, CryptSM4
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, String, event, literal, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from xc_testing import postgres_schema
from xingcheng.core.crypto import (
    EncryptedString,
    FieldCryptoError,
    FieldDecryptionError,
    Keyring,
    KeyringFile,
    encrypted_columns,
    keyring_path,
    reencrypt,
    rotate_field_keys,
    rotate_keys,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
    use_keyring,
)
from xingcheng.core.db import Base, Database, create_db_engine

# As in tests/conftest.py; not imported from there: several conftest modules share that name.
GBT_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def sm4_ecb(key: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update(block)  # ECB: single blocks, as the standard's vectors are


def gmssl_block(key: bytes, block: bytes) -> bytes:
    cipher = CryptSM4()
    cipher.set_key(key, SM4_ENCRYPT)
    return bytes(cipher.crypt_ecb(block))[:16]  # gmssl pads; the first block is the block's encryption


# ---------------------------------------------------------------------------------------------
# SM4 and SM4-GCM
# ---------------------------------------------------------------------------------------------


def test_gbt_32907_appendix_a_example_1() -> None:
    assert sm4_ecb(GBT_KEY, GBT_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_gbt_32907_appendix_a_example_2_one_million_encryptions() -> None:
    encryptor = Cipher(algorithms.SM4(GBT_KEY), modes.ECB()).encryptor()
    block = GBT_KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


@settings(max_examples=40)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_gmssl_agrees_with_cryptography_on_sm4(key: bytes, block: bytes) -> None:
    assert gmssl_block(key, block) == sm4_ecb(key, block)


def test_rfc_8998_sm4_gcm_vector() -> None:
    nonce = bytes.fromhex("00001234567800000000ABCD")
    plaintext = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                              "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    sealed = sm4_gcm_encrypt(GBT_KEY, nonce, plaintext, aad)
    assert sealed[:-16].hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
    assert sealed[-16:].hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"
    assert sm4_gcm_decrypt(GBT_KEY, nonce, sealed, aad) == plaintext


def _gf_mult(x: int, y: int) -> int:
    # GF(2^128) product in GCM's bit order (NIST SP 800-38D, algorithm 1).
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1
    return z


def _ghash(h: int, data: bytes) -> int:
    y = 0
    for i in range(0, len(data), 16):
        y = _gf_mult(y ^ int.from_bytes(data[i : i + 16]), h)
    return y


def gcm_oracle(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """GCM from its definition with gmssl's SM4 as the block cipher: independent of cryptography."""
    h = int.from_bytes(gmssl_block(key, bytes(16)))
    j0 = nonce + b"\x00\x00\x00\x01"
    stream = b"".join(gmssl_block(key, nonce + (2 + i).to_bytes(4)) for i in range((len(plaintext) + 15) // 16))
    ciphertext = bytes(p ^ k for p, k in zip(plaintext, stream, strict=False))
    pad = lambda b: b + bytes(-len(b) % 16)  # noqa: E731
    lengths = (8 * len(aad)).to_bytes(8) + (8 * len(ciphertext)).to_bytes(8)
    tag = int.from_bytes(gmssl_block(key, j0)) ^ _ghash(h, pad(aad) + pad(ciphertext) + lengths)
    return ciphertext + tag.to_bytes(16)


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=12, max_size=12), st.binary(max_size=70), st.binary(max_size=40))
def test_sm4_gcm_equals_gcm_built_on_gmssl(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> None:
    assert sm4_gcm_encrypt(key, nonce, plaintext, aad) == gcm_oracle(key, nonce, plaintext, aad)


# ---------------------------------------------------------------------------------------------
# Keyring and the stored form
# ---------------------------------------------------------------------------------------------

TOKEN = re.compile(r"v1:(k[0-9]+):([A-Za-z0-9+/]+=*)")


@given(st.text())
def test_round_trip_and_format(plaintext: str) -> None:
    keyring = KEYRING
    token = keyring.encrypt(plaintext, binding="person.phone")
    match = TOKEN.fullmatch(token)
    assert match and match.group(1) == keyring.active_id
    assert len(base64.b64decode(match.group(2))) == 12 + len(plaintext.encode()) + 16
    assert keyring.decrypt(token, binding="person.phone") == plaintext


KEYRING = Keyring.generate()


def test_every_tampering_is_refused_with_a_clear_error() -> None:
    token = KEYRING.encrypt("13812345678", binding="person.phone")
    head, payload = token.rsplit(":", 1)
    raw = bytearray(base64.b64decode(payload))
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0x01
        with pytest.raises(FieldDecryptionError, match=r"person\.phone failed authentication: it was altered"):
            KEYRING.decrypt(f"{head}:{base64.b64encode(bytes(damaged)).decode()}", binding="person.phone")
    with pytest.raises(FieldDecryptionError, match="copied from another column"):
        KEYRING.decrypt(token, binding="person.name")
    assert KEYRING.encrypt("x", binding="a.b") != KEYRING.encrypt("x", binding="a.b")  # fresh nonce


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("13812345678", "is not a field ciphertext"),
        ("v2:k1:AAAA", "is not a field ciphertext"),
        ("v1:k9:AAAA", "encrypted with key 'k9', which is not in the keyring"),
        ("v1:k1:not base64!", "payload is not valid base64"),
        ("v1:k1:AAAA", "too short to be sealed"),
    ],
)
def test_malformed_values(token: str, message: str) -> None:
    with pytest.raises(FieldDecryptionError, match=message):
        KEYRING.decrypt(token, binding="person.phone")


def test_a_key_id_rewritten_in_the_header_fails(tmp_path: Path) -> None:
    two = KEYRING.with_new_key()
    token = KEYRING.encrypt("张三", binding="person.name")
    with pytest.raises(FieldDecryptionError, match="failed authentication"):
        two.decrypt(token.replace("v1:k1:", "v1:k2:"), binding="person.name")
    assert two.decrypt(token, binding="person.name") == "张三"


def test_key_file_is_created_private_and_reloads(tmp_path: Path) -> None:
    path = keyring_path(tmp_path)
    store = KeyringFile(path)
    first = store.load()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert KeyringFile(path).load() == first
    rotated = first.with_new_key()
    store.save(rotated)
    assert store.current().active_id == "k2" and set(store.current().keys) == {"k1", "k2"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "secret" not in repr(rotated.active)  # keys never reach a log through a repr
    path.chmod(0o644)
    with pytest.raises(FieldCryptoError, match="readable by others"):
        KeyringFile(path).load()
    path.chmod(0o600)
    path.write_text('{"format": "something else"}')
    with pytest.raises(FieldCryptoError, match="is not a xingcheng-field-keys/1 file"):
        KeyringFile(path).load()


def test_concurrent_key_additions_never_lose_a_key(tmp_path: Path) -> None:
    path = keyring_path(tmp_path)
    stores = [KeyringFile(path) for _ in range(8)]  # as if eight processes rotated at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        added = sorted(pool.map(lambda store: store.add_key()[1].active_id, stores))
    assert added == [f"k{n}" for n in range(2, 10)]
    assert sorted(KeyringFile(path).load().keys) == [f"k{n}" for n in range(1, 10)]


# ---------------------------------------------------------------------------------------------
# The column type
# ---------------------------------------------------------------------------------------------


class CryptoBase(DeclarativeBase):
    """Tables of these tests only: kept out of ``Base.metadata``, which migrations compare with."""

    metadata = MetaData()


class Resident(CryptoBase):
    __tablename__ = "xc_test_resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    district: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(EncryptedString())
    phone: Mapped[str | None] = mapped_column(EncryptedString(), default=None)
    legacy: Mapped[str | None] = mapped_column(EncryptedString(aad="old_resident.legacy"), default=None)


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyringFile]:
    store = KeyringFile(keyring_path(tmp_path))
    with use_keyring(store):
        yield store


@pytest.fixture
def sqlite(tmp_path: Path, keys: KeyringFile) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'crypto.db'}")
    CryptoBase.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_columns_are_bound_to_their_own_names() -> None:
    table = Resident.__table__
    assert [(c.name, c.type.aad) for c in table.columns if isinstance(c.type, EncryptedString)] == [  # type: ignore[attr-defined]
        ("name", "xc_test_resident.name"), ("phone", "xc_test_resident.phone"), ("legacy", "old_resident.legacy")]
    assert list(encrypted_columns(CryptoBase.metadata).values()) == [[table.c.name, table.c.phone, table.c.legacy]]


def test_orm_round_trip_stores_only_ciphertext(sqlite: Engine) -> None:
    with Session(sqlite) as session:
        session.add(Resident(id=1, district="岳麓区", name="欧阳修", phone="13812345678", legacy="旧值"))
        session.add(Resident(id=2, district="天心区", name="张三"))
        session.commit()
    with sqlite.connect() as conn:
        raw = conn.execute(text("SELECT name, phone, legacy FROM xc_test_resident WHERE id = 1")).one()
    assert all(TOKEN.fullmatch(value) for value in raw)
    assert not any("欧阳修" in value or "13812345678" in value for value in raw)
    with Session(sqlite) as session:
        person = session.get_one(Resident, 1)
        assert (person.name, person.phone, person.legacy) == ("欧阳修", "13812345678", "旧值")
        assert session.scalars(select(Resident.id).where(Resident.phone.is_(None))).all() == [2]


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(sqlite: Engine) -> None:
    with Session(sqlite) as session:
        session.add(Resident(id=1, district="岳麓区", name="欧阳修", phone="13812345678"))
        session.commit()
    with sqlite.begin() as conn:
        conn.execute(text("UPDATE xc_test_resident SET name = phone"))
    with Session(sqlite) as session, pytest.raises(FieldDecryptionError, match=r"xc_test_resident\.name failed authentication"):
        session.get_one(Resident, 1)


def test_sql_comparison_is_refused_instead_of_matching_nothing() -> None:
    with pytest.raises(FieldCryptoError, match="cannot be compared in SQL"):
        select(Resident).where(Resident.phone == "13812345678")
    with pytest.raises(FieldCryptoError, match="cannot be compared in SQL"):
        select(Resident).where(Resident.name.in_(["张三"]))


def test_outside_a_column_it_needs_an_explicit_binding(sqlite: Engine) -> None:
    # SQLAlchemy wraps errors raised while binding parameters; the cause is ours.
    with sqlite.connect() as conn, pytest.raises(StatementError, match="outside a table column") as raised:
        conn.execute(select(literal("x", EncryptedString())))
    assert isinstance(raised.value.orig, FieldCryptoError)


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------


def _fill(engine: Engine, count: int) -> None:
    with Session(engine) as session:
        session.add_all(Resident(id=i, district="岳麓区", name=f"居民{i}", phone=None if i % 5 == 0 else f"138{i:08d}")
                        for i in range(1, count + 1))
        session.commit()


def _raw_key_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, phone FROM xc_test_resident")).all()
    return {value.split(":")[1] for row in rows for value in row if value is not None}


def test_rotation_reencrypts_every_value_in_batches(sqlite: Engine, keys: KeyringFile) -> None:
    _fill(sqlite, 250)
    seen: list[tuple[str, int, int]] = []
    report = rotate_keys(sqlite, keys, metadata=CryptoBase.metadata, batch_size=40, progress=lambda *a: seen.append(a))
    assert (report.previous_key_id, report.active_key_id) == ("k1", "k2")
    by_column = {c.column: c for c in report.columns}
    assert (by_column["name"].values, by_column["name"].reencrypted, by_column["name"].already_current) == (250, 250, 0)
    assert (by_column["phone"].values, by_column["phone"].reencrypted) == (200, 200)
    assert by_column["legacy"].values == 0 and report.reencrypted == 450 and report.failures == []
    assert len(seen) == 7 and seen[-1] == ("xc_test_resident", 450, 450)
    assert _raw_key_ids(sqlite) == {"k2"}
    assert set(keys.load().keys) == {"k1", "k2"}  # old keys stay: backups still need them
    with Session(sqlite) as session:
        assert session.get_one(Resident, 7).phone == "13800000007"
    again = reencrypt(sqlite, keys.load(), metadata=CryptoBase.metadata)
    assert sum(c.reencrypted for c in again) == 0 and sum(c.already_current for c in again) == 450


def test_rotation_reports_damaged_values_and_goes_on(sqlite: Engine, keys: KeyringFile) -> None:
    _fill(sqlite, 10)
    with sqlite.begin() as conn:
        conn.execute(text("UPDATE xc_test_resident SET phone = name WHERE id = 3"))
    report = rotate_keys(sqlite, keys, metadata=CryptoBase.metadata, batch_size=4)
    phone = next(c for c in report.columns if c.column == "phone")
    assert (phone.failed, phone.reencrypted) == (1, 7)
    assert report.failures == [
        "xc_test_resident {'id': 3}: the value in xc_test_resident.phone failed authentication: it was altered, "
        "copied from another column, or key 'k1' is not the key it was sealed with"]


def test_rotate_field_keys_uses_the_data_dir_and_base_metadata(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'app.db'}")
    Base.metadata.create_all(engine)
    report = rotate_field_keys(Database(engine), tmp_path)
    assert report.key_file == str(keyring_path(tmp_path)) and report.active_key_id == "k2"
    assert report.as_dict()["active_key_id"] == "k2"
    engine.dispose()


@pytest.fixture
def pg(keys: KeyringFile) -> Iterator[Engine]:
    with postgres_schema("xc_crypto") as engine:
        CryptoBase.metadata.create_all(engine)
        yield engine


def test_rotation_on_postgresql_leaves_a_concurrent_write_alone(pg: Engine, keys: KeyringFile) -> None:
    _fill(pg, 30)
    old = keys.load()
    writes: list[str] = []

    def concurrent_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Between the batch's read and its first update, another session rewrites row 1.
        if statement.startswith("UPDATE") and not writes:
            writes.append(old.encrypt("居民新", binding="xc_test_resident.name"))
            with pg.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
                other.execute(text("UPDATE xc_test_resident SET name = :v WHERE id = 1"), {"v": writes[0]})

    event.listen(pg, "before_cursor_execute", concurrent_write)
    try:
        report = rotate_keys(pg, keys, metadata=CryptoBase.metadata, batch_size=10)
    finally:
        event.remove(pg, "before_cursor_execute", concurrent_write)
    name = next(c for c in report.columns if c.column == "name")
    assert (name.values, name.reencrypted, name.changed_concurrently) == (30, 29, 1)
    with pg.connect() as conn:
        assert conn.execute(text("SELECT name FROM xc_test_resident WHERE id = 1")).scalar() == writes[0]
    with Session(pg) as session:
        assert session.get_one(Resident, 1).name == "居民新"
    assert reencrypt(pg, keys.load(), metadata=CryptoBase.metadata)[0].reencrypted == 1  # the next pass takes it
    assert _raw_key_ids(pg) == {"k2"}


def test_default_keyring_lives_in_the_settings_data_dir() -> None:
    from xingcheng.core.crypto import current_keyring
    from xingcheng.core.settings import get_settings

    keyring = current_keyring()
    path = keyring_path(get_settings().data_dir)
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert current_keyring() is keyring  # cached while the file is unchanged
