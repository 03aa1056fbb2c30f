"""Settings: environment names operators script against, generated secret key, nested areas."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from xingcheng.core.settings import Settings


def test_defaults_put_everything_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("XC_DATABASE_URL", raising=False)
    monkeypatch.setenv("XC_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/xingcheng.db"
    assert settings.mqtt_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_secret_key_is_generated_once_with_private_permissions(tmp_path, monkeypatch):
    monkeypatch.delenv("XC_SECRET_KEY", raising=False)
    monkeypatch.setenv("XC_DATA_DIR", str(tmp_path))
    first = Settings().signing_key()
    assert len(first) >= 32
    assert Settings().signing_key() == first
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_nested_area_settings_and_empty_mqtt_url(monkeypatch):
    monkeypatch.setenv("XC_AUTH__LOCKOUT_FAILURES", "3")
    monkeypatch.setenv("XC_MQTT_URL", "")
    settings = Settings()
    assert settings.auth.lockout_failures == 3
    assert settings.mqtt_url is None


def test_weak_secret_key_fails_fast(monkeypatch):
    monkeypatch.setenv("XC_SECRET_KEY", "changeme")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings()
