"""Recompute the whole ledger from its entries and report the first thing that does not match.

Checks, streaming the log in leaf order in constant memory (a ``CompactTree`` plus one chunk):
every entry's content against its stored leaf hash; every stored subtree hash against the tree
rebuilt from content; every signed tree head's signature, its root against the rebuilt tree,
the chain of heads (each names its predecessor's size) and timestamps; consistency proofs
served from the stored subtrees between consecutive heads; rows and subtree hashes that no
head covers; and committed entries left unsequenced longer than the maximum merge delay.

Findings are ordered by the leaf position where the damage starts, and consequences of an
earlier finding (the ancestors of a modified leaf, later roots) are not repeated.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, func, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.merkle import CompactTree, consistency_proof_ranges, hasher, verify_consistency
from xingcheng.core.audit.models import AuditEntry, AuditNode, AuditTreeHead, leaf_bytes_of
from xingcheng.core.audit.sequencer import Target, begin_sqlite, engine_of
from xingcheng.core.audit.service import audit_settings, range_hashes, signing_key_path
from xingcheng.core.audit.signing import key_id, public_key_of, tree_head_bytes, verify_signature
from xingcheng.core.db import get_database, utcnow
from xingcheng.core.errors import XingchengError

_entry, _node, _head = (cast(Table, m.__table__) for m in (AuditEntry, AuditNode, AuditTreeHead))
_AFTER_TREE = 1 << 62  # sort position of findings that are not about one place in the tree
_RANK = {"deleted": 0, "modified": 1, "hash-altered": 2, "inserted": 3, "node": 4, "tree-head": 5, "signature": 6,
         "fork": 7, "key": 8, "pending": 9}
_PLACEHOLDER = bytes(32)  # stands in for a leaf that cannot be hashed; its subtrees are already reported


@dataclass(frozen=True)
class Finding:
    """One problem, as one line a person can act on."""

    kind: str  # deleted | modified | hash-altered | inserted | node | tree-head | signature | fork | key | pending
    message: str
    position: int = _AFTER_TREE
    entry_id: int | None = None
    leaf_index: int | None = None


@dataclass
class VerifyReport:
    tree_size: int = 0
    algorithm: str | None = None
    entries_checked: int = 0
    tree_heads_checked: int = 0
    pending: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for finding in data["findings"]:
            if finding["position"] == _AFTER_TREE:
                finding["position"] = None
        return {"ok": self.ok, **data}


class _Ranges:
    """Disjoint, sorted leaf ranges with logarithmic overlap tests."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        at = bisect_right(self.starts, end - 1)  # the last range starting inside or before [start, end)
        return at > 0 and self.ends[at - 1] > start

    def add(self, start: int, end: int) -> None:
        lo = bisect_left(self.ends, start)  # first range that ends at or after our start
        hi = bisect_right(self.starts, end)  # ranges starting after our end stay
        if lo < hi:
            start, end = min(start, self.starts[lo]), max(end, self.ends[hi - 1])
        self.starts[lo:hi] = [start]
        self.ends[lo:hi] = [end]


@contextmanager
def _snapshot(target: Target | Session | Connection) -> Iterator[Connection]:
    """One consistent view of the ledger while the sequencer keeps appending."""
    if isinstance(target, Session):
        yield target.connection()
        return
    if isinstance(target, Connection):
        yield target
        return
    with engine_of(target).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            begin_sqlite(conn)  # in a transaction, the first read fixes SQLite's WAL snapshot
        try:
            yield conn
        finally:
            conn.rollback()


class _Check:
    """State of one verification run."""

    def __init__(self, conn: Connection, keys: dict[bytes, bytes], settings: AuditSettings, chunk_bits: int,
                 progress: Callable[[int, int], None] | None) -> None:
        self.conn, self.keys, self.settings, self.chunk_bits = conn, keys, settings, chunk_bits
        self.progress = progress
        self.report = VerifyReport()
        self.findings: list[Finding] = []
        self.tainted = _Ranges()  # leaf ranges whose hashes above are consequences of a finding
        self.node_problems: dict[tuple[int, int], str] = {}  # (level, position) -> missing | mismatch
        self.leaf_problems: list[tuple[int, int, str | None]] = []  # (leaf, entry id, error)
        self.root_ok: dict[int, bool] = {}
        self.valid_heads: list[Any] = []  # heads whose signature verified
        self._root_sizes: list[int] | None = None

    def add(self, kind: str, message: str, position: int = _AFTER_TREE, **where: int | None) -> None:
        self.findings.append(Finding(kind, message, position, where.get("entry_id"), where.get("leaf_index")))

    def taint(self, start: int, end: int) -> None:
        self.tainted.add(start, end)

    def is_tainted(self, start: int, end: int) -> bool:
        return self.tainted.overlaps(start, end)

    # --- tree heads -------------------------------------------------------------------------------------------
    def check_heads(self, heads: Sequence[Any]) -> str:
        algorithm = heads[0].algorithm if heads else self.settings.hash_algorithm
        try:
            hasher(algorithm)
        except ValueError:
            self.add("tree-head", f"the first tree head names an unknown hash algorithm {algorithm!r}", 0)
            algorithm = self.settings.hash_algorithm
        if heads and not self.keys:
            self.add("key", f"cannot check tree head signatures: no public key (looked in {signing_key_path(self.settings)})")
        if heads and heads[0].tree_size != 0:
            self.add("tree-head", "the log's first tree head (size 0) is missing: tree heads were deleted", 0)
        previous: Any = None
        for head in heads:
            where = f"tree head #{head.id} (size {head.tree_size})"
            if self.keys:
                key = self.keys.get(bytes(head.key_id))
                if key is None:
                    self.add("signature", f"{where} is signed by an unknown key", head.tree_size)
                elif not verify_signature(key, bytes(head.signature), _signed_bytes(head)):
                    self.add("signature", f"{where} has an invalid signature: it was altered", head.tree_size)
                else:
                    self.valid_heads.append(head)
            if head.algorithm != algorithm:
                self.add("tree-head", f"{where} uses {head.algorithm}, but the log uses {algorithm}", head.tree_size)
            if previous is not None:
                if head.previous_size != previous.tree_size:
                    self.add("tree-head", f"{where} follows size {head.previous_size}, but the head before it has size "
                             f"{previous.tree_size}: tree heads were deleted", previous.tree_size)
                if head.timestamp_ms < previous.timestamp_ms:
                    self.add("tree-head", f"{where} is dated before the head of size {previous.tree_size}",
                             head.tree_size)
            previous = head
        self.report.tree_heads_checked = len(heads)
        return algorithm

    # --- entries and subtrees -------------------------------------------------------------------------------
    def scan(self, algorithm: str, tree_size: int, heads_by_size: dict[int, Any]) -> None:
        hash_ = hasher(algorithm)
        tree = CompactTree(hash_)
        if 0 in heads_by_size:
            self.root_ok[0] = bytes(heads_by_size[0].root_hash) == hash_.empty_root()
        top = self.chunk_bits
        high = {(int(lv), int(pos)): bytes(h) for lv, pos, h in self.conn.execute(
            select(_node.c.level, _node.c.position, _node.c.hash).where(_node.c.level > top))}
        gap_start: int | None = None
        for start in range(0, tree_size, 1 << top):
            end = min(start + (1 << top), tree_size)
            stored = {(int(lv), int(pos)): bytes(h) for lv, pos, h in self.conn.execute(
                select(_node.c.level, _node.c.position, _node.c.hash).where(or_(*(
                    and_(_node.c.level == lv, _node.c.position >= start >> lv, _node.c.position < end >> lv)
                    for lv in range(1, top + 1)))))}
            rows = self.conn.execute(select(_entry).where(_entry.c.leaf_index >= start, _entry.c.leaf_index < end)
                                     .order_by(_entry.c.leaf_index))
            expected = start
            for row in [*rows, None]:
                index = end if row is None else int(row.leaf_index)
                if index > expected and gap_start is None:
                    gap_start = expected
                while expected < index:  # deleted leaves: keep the shape, their subtrees are reported
                    self._append(tree, _PLACEHOLDER, (stored, high), heads_by_size)
                    expected += 1
                if row is None:
                    break
                if gap_start is not None:
                    self.missing(gap_start, index)
                    gap_start = None
                self._append(tree, self._leaf(hash_, row, index), (stored, high), heads_by_size)
                self.report.entries_checked += 1
                expected += 1
            if self.progress is not None:
                self.progress(end, tree_size)
        if gap_start is not None:
            self.missing(gap_start, tree_size)

    def _leaf(self, hash_: Any, row: Any, index: int) -> bytes:
        error: str | None = None
        try:
            recomputed: bytes = hash_.leaf(leaf_bytes_of(row, index))
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            recomputed, error = _PLACEHOLDER, str(exc)
        if error is not None or row.leaf_hash is None or bytes(row.leaf_hash) != recomputed:
            self.leaf_problems.append((index, int(row.id), error))
        return recomputed

    def _append(self, tree: CompactTree, leaf_hash: bytes, stored: tuple[dict[tuple[int, int], bytes], ...],
                heads_by_size: dict[int, Any]) -> None:
        chunk, high = stored
        for level, position, node_hash in tree.append(leaf_hash):
            value = chunk.get((level, position)) or high.get((level, position))
            if value is None:
                self.node_problems[(level, position)] = "missing"
            elif value != node_hash:
                self.node_problems[(level, position)] = "mismatch"
        head = heads_by_size.get(tree.size)
        if head is not None:
            self.root_ok[tree.size] = bytes(head.root_hash) == tree.root()

    def missing(self, start: int, end: int) -> None:
        what = f"leaf {start} is missing" if end - start == 1 else f"leaves {start}–{end - 1} are missing"
        self.add("deleted", f"{what}: its entry was deleted or its leaf index cleared" if end - start == 1
                 else f"{what}: their entries were deleted or their leaf indexes cleared", start, leaf_index=start)
        self.taint(start, end)

    def _intact_above(self, level: int, position: int, tree_size: int) -> bool:
        """Does the tree above this node still agree with the entries (so only this stored hash changed)?"""
        parent = (level + 1, position >> 1)
        if ((parent[1] + 1) << parent[0]) <= tree_size:
            return parent not in self.node_problems
        # The node is a peak of the tree: the smallest signed root over it must still match.
        if self._root_sizes is None:
            self._root_sizes = sorted(self.root_ok)
        at = bisect_left(self._root_sizes, (position + 1) << level)
        return at < len(self._root_sizes) and self.root_ok[self._root_sizes[at]]

    def classify(self, tree_size: int) -> None:
        for index, entry_id, error in self.leaf_problems:
            where = f"entry {entry_id} (leaf {index})"
            if error is not None:
                self.add("modified", f"{where} was modified: it no longer serialises ({error})", index,
                         entry_id=entry_id, leaf_index=index)
            elif self._intact_above(0, index, tree_size):
                self.add("hash-altered", f"{where}: its stored leaf hash was altered (the content still matches the "
                         "tree)", index, entry_id=entry_id, leaf_index=index)
            else:
                self.add("modified", f"{where} was modified: its content no longer matches its leaf hash", index,
                         entry_id=entry_id, leaf_index=index)
            self.taint(index, index + 1)
        for (level, position), problem in sorted(self.node_problems.items()):
            start, end = position << level, (position + 1) << level
            if self.is_tainted(start, end):
                continue
            where = f"subtree hash (level {level}, position {position}) over leaves {start}–{end - 1}"
            if problem == "missing":
                self.add("node", f"{where} is missing: it was deleted", start)
            elif self._intact_above(level, position, tree_size):
                self.add("node", f"{where} was altered", start)
            else:
                self.add("modified", f"leaves {start}–{end - 1} no longer match the {where}: entries there were "
                         "modified together with their leaf hashes", start)
                self.taint(start, end)

    def check_roots(self, heads_by_size: dict[int, Any]) -> None:
        good = 0
        for size in sorted(self.root_ok):
            if self.root_ok[size]:
                good = size
                continue
            head = heads_by_size[size]
            forged = bool(self.keys) and head.id not in {h.id for h in self.valid_heads}
            if forged or self.is_tainted(0, size):
                continue  # the head itself was altered (reported), or a consequence of an earlier finding
            self.add("modified", f"signed tree head #{head.id} (size {size}) does not match the entries: entries "
                     f"between leaf {good} and leaf {size - 1} were modified together with their stored hashes", good)
            self.taint(good, size)

    def check_consistency(self, algorithm: str, tree_size: int, trusted: Sequence[Any]) -> None:
        hash_ = hasher(algorithm)
        heads = [h for h in trusted if h.tree_size <= tree_size]
        earliest = min((f.position for f in self.findings), default=_AFTER_TREE)
        for first, second in pairwise(heads):
            if first.tree_size == 0 or earliest < second.tree_size:
                continue  # the empty tree needs no proof; after a finding, a failed proof is a consequence
            try:
                proof = range_hashes(self.conn, algorithm, consistency_proof_ranges(first.tree_size, second.tree_size))
            except XingchengError:
                proof = []
            if not verify_consistency(hash_, first=first.tree_size, second=second.tree_size,
                                      first_root=bytes(first.root_hash), second_root=bytes(second.root_hash),
                                      proof=proof):
                self.add("fork", f"tree heads #{first.id} (size {first.tree_size}) and #{second.id} (size "
                         f"{second.tree_size}) are not consistent: the log was forked or rewritten", first.tree_size)


def _signed_bytes(head: Any) -> bytes:
    try:
        return tree_head_bytes(version=head.version, algorithm=head.algorithm, tree_size=head.tree_size,
                               previous_size=head.previous_size, timestamp_ms=head.timestamp_ms,
                               root_hash=bytes(head.root_hash))
    except (ValueError, UnicodeEncodeError, OverflowError):
        return b""  # an unknown format cannot carry a valid signature


def verify_ledger(
    target: Target | Session | Connection | None = None,
    *,
    public_keys: Sequence[bytes] | None = None,
    settings: AuditSettings | None = None,
    max_merge_delay: float | None = None,
    now: datetime | None = None,
    chunk_bits: int = 13,
    check_proofs: bool = True,
    max_findings: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Recompute the ledger and report what no longer matches; ``report.first`` is where damage starts.

    ``public_keys`` are the trusted signing keys (raw Ed25519); by default the key file's.
    ``progress(done, total)`` is called after each chunk of leaves.
    """
    settings = settings or audit_settings()
    if public_keys is None:
        own = public_key_of(signing_key_path(settings))
        public_keys = [] if own is None else [own]
    keys = {key_id(key): key for key in public_keys}
    with _snapshot(target if target is not None else get_database()) as conn:
        check = _Check(conn, keys, settings, chunk_bits, progress)
        heads = conn.execute(select(_head).order_by(_head.c.tree_size, _head.c.id)).all()
        algorithm = check.check_heads(heads)
        # The size signed by the newest genuine head, so a forged head cannot stretch the tree; when no
        # head verifies (wrong or missing key, already reported) the entries are still checked.
        trusted = check.valid_heads or list(heads)
        tree_size = max((int(h.tree_size) for h in trusted), default=0)
        heads_by_size = {int(h.tree_size): h for h in heads if h.tree_size <= tree_size}
        # Scan no further than the last stored leaf: a missing tail is one finding, not a loop.
        last = conn.execute(select(func.max(_entry.c.leaf_index)).where(_entry.c.leaf_index < tree_size)).scalar()
        scan_end = 0 if last is None else int(last) + 1
        check.scan(algorithm, scan_end, heads_by_size)
        if scan_end < tree_size:
            check.missing(scan_end, tree_size)
        beyond = conn.execute(select(_entry.c.id, _entry.c.leaf_index).where(
            or_(_entry.c.leaf_index >= tree_size, _entry.c.leaf_index < 0)).order_by(_entry.c.leaf_index)
            .limit(max_findings)).all()
        for entry_id, index in beyond:
            check.add("inserted", f"entry {entry_id} (leaf {index}) was inserted: no signed tree head covers it "
                      "(or the head covering it was deleted)", max(int(index), 0), entry_id=entry_id, leaf_index=index)
        for level, top in conn.execute(select(_node.c.level, func.max(_node.c.position)).group_by(_node.c.level)):
            if level < 1 or top >= tree_size >> level:
                check.add("node", f"subtree hash (level {level}, position {top}) lies outside the signed tree: "
                          "it was inserted", tree_size)
        check.classify(tree_size)
        check.check_roots(heads_by_size)
        if check_proofs:
            check.check_consistency(algorithm, tree_size, trusted)
        delay = max_merge_delay if max_merge_delay is not None else settings.max_merge_delay
        cutoff = (now or utcnow()) - timedelta(seconds=delay)
        unsequenced = _entry.c.leaf_index.is_(None)
        check.report.pending = int(conn.execute(select(func.count()).where(unsequenced)).scalar_one())
        for entry_id, recorded_at in conn.execute(select(_entry.c.id, _entry.c.recorded_at).where(
                unsequenced, _entry.c.recorded_at < cutoff).order_by(_entry.c.id).limit(max_findings)):
            check.add("pending", f"entry {entry_id} recorded at {recorded_at:%Y-%m-%d %H:%M:%S}Z is still unsequenced "
                      f"after the maximum merge delay of {delay:g} s: is the sequencer running?", entry_id=entry_id)
    report = check.report
    report.tree_size, report.algorithm = tree_size, algorithm
    report.findings = sorted(check.findings, key=lambda f: (f.position, _RANK[f.kind]))[:max_findings]
    return report
