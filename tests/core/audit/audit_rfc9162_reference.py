"""An independent RFC 9162 §2.1 reference, transcribed from the RFC text for the tests.

Nothing here imports the code under test: MTH, PATH and PROOF follow the recursive
definitions of §2.1.1, §2.1.3.1 and §2.1.4.1 on plain lists, and the two verifiers are the
step-by-step algorithms of §2.1.3.2 and §2.1.4.2. SM3 comes from ``cryptography``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import hashes


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


HASHES: dict[str, Callable[[bytes], bytes]] = {"sm3": sm3, "sha256": sha256}


class Rfc9162:
    """MTH, PATH, PROOF and the verifiers over one hash function; leaves are raw leaf hashes."""

    def __init__(self, name: str) -> None:
        self.H = HASHES[name]

    def leaf_hash(self, data: bytes) -> bytes:
        return self.H(b"\x00" + data)

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.H(b"\x01" + left + right)

    @staticmethod
    def _k(n: int) -> int:
        # "the largest power of two smaller than n (i.e., k < n <= 2k)"
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def mth(self, leaves: Sequence[bytes]) -> bytes:
        """MTH over leaf *hashes* (so D[i] is already HASH(0x00 || d(i)))."""
        n = len(leaves)
        if n == 0:
            return self.H(b"")
        if n == 1:
            return leaves[0]
        k = self._k(n)
        return self.node(self.mth(leaves[:k]), self.mth(leaves[k:]))

    def path(self, m: int, leaves: Sequence[bytes]) -> list[bytes]:
        n = len(leaves)
        if n == 1:
            return []
        k = self._k(n)
        if m < k:
            return [*self.path(m, leaves[:k]), self.mth(leaves[k:])]
        return [*self.path(m - k, leaves[k:]), self.mth(leaves[:k])]

    def proof(self, m: int, leaves: Sequence[bytes]) -> list[bytes]:
        return self._subproof(m, leaves, True)

    def _subproof(self, m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(leaves)
        if m == n:
            return [] if b else [self.mth(leaves)]
        k = self._k(n)
        if m <= k:
            return [*self._subproof(m, leaves[:k], b), self.mth(leaves[k:])]
        return [*self._subproof(m - k, leaves[k:], False), self.mth(leaves[:k])]

    def verify_inclusion(self, leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
        """RFC 9162 §2.1.3.2, step by step."""
        if leaf_index >= tree_size:  # step 1
            return False
        fn, sn = leaf_index, tree_size - 1  # step 2
        r = leaf  # step 3
        for p in path:  # step 4
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = self.node(p, r)
                if not fn & 1:
                    while not (fn & 1 or fn == 0):
                        fn >>= 1
                        sn >>= 1
            else:
                r = self.node(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root  # step 5

    def verify_consistency(self, first: int, second: int, first_hash: bytes, second_hash: bytes,
                           path: Sequence[bytes]) -> bool:
        """RFC 9162 §2.1.4.2, step by step (for 0 < first < second)."""
        if not 0 < first < second:
            raise ValueError("the RFC algorithm covers 0 < first < second")
        consistency_path = list(path)
        if not consistency_path:  # step 1
            return False
        if first & (first - 1) == 0:  # step 2: first is an exact power of 2
            consistency_path = [first_hash, *consistency_path]
        fn, sn = first - 1, second - 1  # step 3
        while fn & 1:  # step 4
            fn >>= 1
            sn >>= 1
        fr = sr = consistency_path[0]  # step 5
        for c in consistency_path[1:]:  # step 6
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = self.node(c, fr)
                sr = self.node(c, sr)
                if not fn & 1:
                    while not (fn & 1 or fn == 0):
                        fn >>= 1
                        sn >>= 1
            else:
                sr = self.node(sr, c)
            fn >>= 1
            sn >>= 1
        return fr == first_hash and sr == second_hash and sn == 0  # step 7
