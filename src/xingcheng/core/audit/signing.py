"""Ed25519 signing of tree heads; the key lives in ``<data_dir>/keys/audit-signing.key`` (0600).

Signed bytes of a tree head, version 1 (integers big-endian)::

    "xc-audit-sth"      12 ASCII bytes
    version             u8    1
    algorithm           u8 length || ASCII name ("sm3" or "sha256")
    tree_size           u64
    previous_size       u64   size of the preceding head (0 for the first head, of size 0)
    timestamp_ms        u64   milliseconds since the Unix epoch
    root_hash           u8 length || bytes

The key id is SHA-256 of the raw 32-byte public key, as RFC 9162 names a log by its key.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import threading
from contextlib import suppress
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STH_MAGIC = b"xc-audit-sth"
STH_VERSION = 1
KEY_FILE_NAME = "audit-signing.key"
_HEAD = struct.Struct(">QQQ")


def tree_head_bytes(
    *, version: int, algorithm: str, tree_size: int, previous_size: int, timestamp_ms: int, root_hash: bytes
) -> bytes:
    """What a tree head's signature covers (format in the module docstring)."""
    if version != STH_VERSION:
        raise ValueError(f"tree head format version {version} is not supported")
    name = algorithm.encode("ascii")
    return b"".join((
        STH_MAGIC, bytes((version, len(name))), name,
        _HEAD.pack(tree_size, previous_size, timestamp_ms),
        bytes((len(root_hash),)), root_hash,
    ))


def key_id(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``public_key``'s Ed25519 signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


class Signer:
    """The log's Ed25519 key pair."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(self.public_key)

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> Signer:
        """Read the key file; refuse one that others may read, as ssh does."""
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{path} is accessible by other users (mode {stat.S_IMODE(mode):o}); chmod 600 it")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """The key in ``path``, generated on first use.

        Several processes may start at once: each writes a complete temporary file and
        hard-links it into place, so readers never see a half-written key and one key wins.
        """
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
                with suppress(FileExistsError):  # another process won the race: use its key
                    os.link(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
        return cls.load(path)

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)


_signers: dict[Path, Signer] = {}
_signers_lock = threading.Lock()


def signer_for(path: Path) -> Signer:
    """The signer of ``path``, loaded (or created) once per process."""
    resolved = path.resolve()
    with _signers_lock:
        if resolved not in _signers:
            _signers[resolved] = Signer.load_or_create(resolved)
        return _signers[resolved]


def public_key_of(path: Path) -> bytes | None:
    """The public key of the key file at ``path`` without creating one; None when there is none."""
    if not path.exists():
        return None
    return Signer.load(path).public_key
