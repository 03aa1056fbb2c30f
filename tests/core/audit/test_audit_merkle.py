"""SM3 against GB/T 32905 and gmssl; RFC 9162 trees and proofs against an independent reference."""

from __future__ import annotations

import hashlib
import random

import pytest
from audit_rfc9162_reference import Rfc9162
from gmssl import func as gmssl_func
from gmssl import sm3 as gmssl_sm3
from hypothesis import given, settings
from hypothesis import strategies as st

from xingcheng.core.audit import merkle
from xingcheng.core.audit.merkle import (
    CompactTree,
    aligned_subtrees,
    consistency_proof_ranges,
    hasher,
    inclusion_path_ranges,
    merkle_root_naive,
    root_from_subtrees,
    verify_consistency,
    verify_inclusion,
)

GBT_32905_VECTORS = [
    (b"abc", "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0"),
    (b"abcd" * 16, "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732"),
]


def leaves_for(n: int, name: str = "sm3", seed: int = 0) -> list[bytes]:
    rfc = Rfc9162(name)
    rng = random.Random(f"{seed}:{n}")
    return [rfc.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(n)]


def mth_from_ranges(leaves: list[bytes], start: int, end: int, name: str) -> bytes:
    """MTH of a range the way the ledger builds it: from stored aligned subtrees, not by recursion."""
    h = hasher(name)
    nodes = []
    for level, position in aligned_subtrees(start, end):
        nodes.append(merkle_root_naive(leaves[position << level:(position + 1) << level], h))
    return root_from_subtrees(nodes, h)


# --- SM3 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "digest"), GBT_32905_VECTORS)
def test_sm3_matches_gbt_32905_vectors(message: bytes, digest: str) -> None:
    expected = bytes.fromhex(digest.replace(" ", ""))
    assert hasher("sm3").hash(message) == expected
    assert gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(message)) == expected.hex()


def test_both_sm3_backends_match_the_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    with_hashlib = merkle._sm3_function()

    def no_sm3(name: str, *args: object) -> object:
        raise ValueError("unsupported hash type sm3")

    monkeypatch.setattr(hashlib, "new", no_sm3)  # the module object merkle uses
    with_cryptography = merkle._sm3_function()
    assert with_hashlib is not with_cryptography
    for message, digest in GBT_32905_VECTORS:
        expected = bytes.fromhex(digest.replace(" ", ""))
        assert with_hashlib(message) == expected
        assert with_cryptography(message) == expected


@settings(max_examples=60)
@given(st.binary(max_size=300))
def test_sm3_agrees_with_gmssl_pure_python(data: bytes) -> None:
    assert hasher("sm3").hash(data).hex() == gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(data))


def test_rfc9162_prefixes_and_empty_tree() -> None:
    h = hasher("sha256")
    assert h.empty_root() == hashlib.sha256(b"").digest()
    assert h.leaf(b"x") == hashlib.sha256(b"\x00x").digest()
    assert h.node(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root_from_subtrees([], hasher("sm3")) == hasher("sm3").hash(b"")


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        hasher("md5")


# --- roots ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sm3", "sha256"])
def test_roots_match_the_recursive_definition(name: str) -> None:
    rfc = Rfc9162(name)
    h = hasher(name)
    leaves = leaves_for(70, name)
    tree = CompactTree(h)
    for n in range(71):
        assert tree.root() == rfc.mth(leaves[:n]) == merkle_root_naive(leaves[:n], h), n
        if n < 70:
            tree.append(leaves[n])


def test_compact_tree_reports_every_complete_subtree_and_resumes_from_peaks() -> None:
    rfc = Rfc9162("sm3")
    leaves = leaves_for(100)
    tree = CompactTree(hasher("sm3"))
    nodes: dict[tuple[int, int], bytes] = {(0, i): leaf for i, leaf in enumerate(leaves)}
    for leaf in leaves:
        for level, position, value in tree.append(leaf):
            nodes[(level, position)] = value
    for (level, position), value in nodes.items():
        assert value == rfc.mth(leaves[position << level:(position + 1) << level])
    assert sum(1 for level, _ in nodes if level > 0) == sum(100 >> lv for lv in range(1, 8))
    for size in (0, 1, 37, 64, 99):
        resumed = CompactTree(hasher("sm3"), size=size, peaks=[nodes[n] for n in CompactTree.peak_ids(size)])
        for leaf in leaves[size:]:
            resumed.append(leaf)
        assert resumed.root() == tree.root()
    with pytest.raises(ValueError, match="peaks"):
        CompactTree(hasher("sm3"), size=5, peaks=[])


def test_aligned_subtrees_refuses_ranges_outside_the_recursion() -> None:
    assert aligned_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert aligned_subtrees(8, 11) == [(1, 4), (0, 10)]
    with pytest.raises(ValueError):
        aligned_subtrees(3, 7)


# --- inclusion proofs ------------------------------------------------------------------------------------------


def ledger_path(leaves: list[bytes], m: int, n: int, name: str = "sm3") -> list[bytes]:
    return [mth_from_ranges(leaves, a, b, name) for a, b in inclusion_path_ranges(m, n)]


def ledger_proof(leaves: list[bytes], m: int, n: int, name: str = "sm3") -> list[bytes]:
    return [mth_from_ranges(leaves, a, b, name) for a, b in consistency_proof_ranges(m, n)]


def test_inclusion_proofs_for_every_leaf_and_size_up_to_70() -> None:
    rfc = Rfc9162("sm3")
    leaves = leaves_for(70)
    for n in range(1, 71):
        root = rfc.mth(leaves[:n])
        for m in range(n):
            path = ledger_path(leaves, m, n)
            assert path == rfc.path(m, leaves[:n]), (m, n)
            assert rfc.verify_inclusion(m, n, leaves[m], path, root), (m, n)
            assert verify_inclusion(hasher("sm3"), leaf_hash=leaves[m], index=m, size=n, path=path, root=root)


@pytest.mark.parametrize("seed", range(4))
def test_inclusion_proofs_in_random_larger_trees(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(100, 3000)
    rfc = Rfc9162("sha256" if seed % 2 else "sm3")
    name = "sha256" if seed % 2 else "sm3"
    leaves = leaves_for(n, name, seed)
    root = rfc.mth(leaves)
    for m in [0, n - 1, *rng.sample(range(n), 10)]:
        path = ledger_path(leaves, m, n, name)
        assert rfc.verify_inclusion(m, n, leaves[m], path, root)


def test_the_reference_inclusion_verifier_can_fail() -> None:
    rfc = Rfc9162("sm3")
    leaves = leaves_for(13)
    root = rfc.mth(leaves)
    path = ledger_path(leaves, 5, 13)
    assert rfc.verify_inclusion(5, 13, leaves[5], path, root)
    assert not rfc.verify_inclusion(6, 13, leaves[5], path, root)  # wrong index
    assert not rfc.verify_inclusion(5, 13, leaves[4], path, root)  # wrong leaf
    assert not rfc.verify_inclusion(5, 13, leaves[5], path[:-1], root)  # short path
    assert not rfc.verify_inclusion(5, 13, leaves[5], [*path, path[0]], root)  # long path
    broken = [bytes(32), *path[1:]]
    assert not rfc.verify_inclusion(5, 13, leaves[5], broken, root)
    assert not verify_inclusion(hasher("sm3"), leaf_hash=leaves[5], index=5, size=13, path=broken, root=root)
    assert not rfc.verify_inclusion(13, 13, leaves[5], path, root)


# --- consistency proofs ----------------------------------------------------------------------------------------


def test_consistency_proofs_for_every_pair_of_sizes_up_to_70() -> None:
    rfc = Rfc9162("sm3")
    leaves = leaves_for(70)
    roots = [rfc.mth(leaves[:n]) for n in range(71)]
    for n in range(1, 71):
        for m in range(1, n + 1):
            proof = ledger_proof(leaves, m, n)
            assert proof == rfc.proof(m, leaves[:n]), (m, n)
            if m < n:
                assert rfc.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            else:
                assert proof == []
            assert verify_consistency(hasher("sm3"), first=m, second=n, first_root=roots[m],
                                      second_root=roots[n], proof=proof)


@pytest.mark.parametrize("seed", range(4))
def test_consistency_proofs_in_random_larger_trees(seed: int) -> None:
    rng = random.Random(100 + seed)
    n = rng.randrange(100, 3000)
    rfc = Rfc9162("sm3")
    leaves = leaves_for(n, "sm3", seed)
    for m in [1, n - 1, *rng.sample(range(1, n), 8)]:
        proof = ledger_proof(leaves, m, n)
        assert rfc.verify_consistency(m, n, rfc.mth(leaves[:m]), rfc.mth(leaves), proof)


def test_the_reference_consistency_verifier_can_fail() -> None:
    rfc = Rfc9162("sm3")
    leaves = leaves_for(20)
    old, new = rfc.mth(leaves[:7]), rfc.mth(leaves)
    proof = ledger_proof(leaves, 7, 20)
    assert rfc.verify_consistency(7, 20, old, new, proof)
    forked = [*leaves[:3], bytes(32), *leaves[4:]]
    assert not rfc.verify_consistency(7, 20, old, rfc.mth(forked), ledger_proof(forked, 7, 20))
    assert not rfc.verify_consistency(7, 20, old, new, proof[:-1])
    assert not rfc.verify_consistency(8, 20, old, new, proof)
    assert not rfc.verify_consistency(7, 20, old, new, [])
    h = hasher("sm3")
    assert not verify_consistency(h, first=7, second=20, first_root=old, second_root=new, proof=proof[:-1])
    assert not verify_consistency(h, first=7, second=7, first_root=old, second_root=new, proof=[])
    assert verify_consistency(h, first=0, second=20, first_root=h.empty_root(), second_root=new, proof=[])


@settings(max_examples=200)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(1, n))))
def test_proof_ranges_match_the_rfc_recursion(case: tuple[int, int, int]) -> None:
    n, m, first = case
    rfc = Rfc9162("sha256")
    leaves = leaves_for(n, "sha256")
    assert ledger_path(leaves, m, n, "sha256") == rfc.path(m, leaves)
    assert ledger_proof(leaves, first, n, "sha256") == rfc.proof(first, leaves)
    # Each range needs at most ~log2(n) stored subtrees: a proof is O(log n) lookups.
    pieces = sum(len(aligned_subtrees(a, b)) for a, b in inclusion_path_ranges(m, n))
    assert pieces <= 2 * max(n.bit_length(), 1)
