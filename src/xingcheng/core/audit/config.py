"""Settings of the audit ledger (``XC_AUDIT__...``); imports nothing of ours so ``core.settings`` can nest it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HashAlgorithm = Literal["sm3", "sha256"]


class AuditSettings(BaseSettings):
    """How the ledger hashes, how often it is sequenced and how late an entry may be."""

    model_config = SettingsConfigDict(env_prefix="XC_AUDIT__", extra="ignore")

    # Fixed when the log is created (stored with every tree head); changing it later has no effect.
    hash_algorithm: HashAlgorithm = "sm3"
    # Run the background sequencer inside ``serve``. Several processes may all run one: a lock
    # lets one work at a time, the others stand aside.
    sequencer_enabled: bool = True
    # Seconds between sequencer runs, as a CT log's merge interval.
    merge_delay: float = Field(default=1.0, gt=0, le=3600)
    # Maximum merge delay: verification flags committed entries left unsequenced longer than this.
    max_merge_delay: float = Field(default=60.0, gt=0)
    # Entries per sequencing batch; every batch gets its own signed tree head.
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000)
    # Ed25519 signing key; default ``<data_dir>/keys/audit-signing.key``.
    signing_key_file: Path | None = None
