"""Settings from the environment (prefix ``XC_``), read once through ``get_settings()``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.grants.policy import GradePolicy


class AuthSettings(BaseModel):
    """Token lifetimes and login lockout (``XC_AUTH__...``)."""

    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=90)
    lockout_failures: int = Field(default=5, ge=1)
    lockout_window_minutes: int = Field(default=15, ge=1)


class ApiSettings(BaseModel):
    """HTTP edge limits (``XC_API__...``)."""

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    default_page_size: int = Field(default=50, ge=1, le=1000)
    max_page_size: int = Field(default=1000, ge=1)
    # Freeze start-up objects out of the garbage collector's full passes (core.heap); off in the test
    # suite, whose hundreds of short-lived apps would otherwise be frozen and never freed.
    settle_heap: bool = True


class IotSettings(BaseModel):
    """``XC_IOT__*``: the sensing platform's store and ingest workers."""

    store: Literal["duckdb", "postgres"] = "duckdb"  # postgres = the database at XC_DATABASE_URL (must be PostgreSQL)
    embedded_worker: bool = True  # run one MQTT ingest worker inside `serve` when XC_MQTT_URL is set
    worker_id: str = Field(default="xc-ingest-serve", min_length=1, max_length=64)  # stable: the broker keeps its session
    # The shared-subscription group the serving process's worker joins; a second server on the same broker
    # (or a benchmark) takes its own group so it does not split the city's devices with this one.
    worker_group: str = Field(default="xc-ingest", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    worker_batch_size: int = Field(default=5000, ge=1, le=50_000)
    raw_retention_days: int = Field(default=90, ge=1)
    aggregate_retention_days: int = Field(default=3650, ge=1)
    simulate_in_serve: bool = False  # stream a light live feed for the demo city's sensors inside `serve`
    simulate_rate: float | None = Field(default=None, gt=0, le=100_000)  # observations/s; None = each sensor's interval


class Settings(BaseSettings):
    """Everything an operator may set; flat names for the ones scripts use."""

    model_config = SettingsConfigDict(
        env_prefix="XC_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Path("./data")
    database_url: str | None = None
    mqtt_url: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    city_code: str = "430100"
    auth: AuthSettings = AuthSettings()
    api: ApiSettings = ApiSettings()
    grants: GradePolicy = GradePolicy()
    audit: AuditSettings = Field(default_factory=AuditSettings)
    iot: IotSettings = Field(default_factory=IotSettings)

    @field_validator("secret_key")
    @classmethod
    def _secret_key_strong(cls, value: str | None) -> str | None:
        # A guessable signing key lets anyone forge tokens: refuse short ones outright.
        if not value:
            return None
        if len(value) < 32:
            raise ValueError("XC_SECRET_KEY must be at least 32 characters")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'xingcheng.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def signing_key(self) -> str:
        """The token signing key: from the environment, else generated once into the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.ensure_data_dir() / "secret.key"
        if not key_file.exists():
            # O_EXCL: two processes starting together must not write two different keys.
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        key = key_file.read_text().strip()
        if len(key) < 32:
            raise ValueError(f"{key_file} holds a key shorter than 32 characters")
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
