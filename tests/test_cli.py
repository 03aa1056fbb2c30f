"""The ``xingcheng`` command as an operator runs it: real subprocesses, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import xingcheng

XINGCHENG = str(Path(sys.executable).with_name("xingcheng"))


def run(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "XC_DATABASE_URL"}
    full_env.update({"XC_DATA_DIR": str(data_dir), **env})
    return subprocess.run([XINGCHENG, *args], capture_output=True, text=True, env=full_env, timeout=300, check=False)


def test_version(tmp_path):
    result = run("--version", data_dir=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"xingcheng {xingcheng.__version__}"


def test_db_upgrade_creates_the_sqlite_file_and_secret_key_is_generated_once(tmp_path):
    result = run("db", "upgrade", data_dir=tmp_path, XC_SECRET_KEY="")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xingcheng.db").exists()


def test_demo_load_json_then_refuses_to_load_twice(tmp_path):
    first = run("demo", "load", "--seed", "7", "--json", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["seed"] == 7 and report["scale"] == "small"
    assert {"divisions", "departments", "persons", "legal_entities"} <= set(report["steps"])
    second = run("demo", "load", data_dir=tmp_path)
    assert second.returncode == 1
    assert second.stderr.strip().count("\n") == 0
    assert second.stderr.startswith("error: the database already holds a city")
    assert "Traceback" not in second.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "bob", "--role", "citizen", "--id-number", "430102199001011235", "--password", "Passw0rd!x"],
         "check digit"),
        (["users", "create", "bob", "--role", "department_staff", "--department", "nowhere", "--password", "Passw0rd!x"],
         "no department with code 'nowhere'"),
        (["users", "create", "bob", "--role", "wizard", "--password", "Passw0rd!x"], "wizard"),
        (["demo", "load", "--scale", "huge"], "scale must be 'small' or 'city'"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_errors_are_one_readable_line(tmp_path, args, message):
    result = run(*args, data_dir=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path):
    result = run("db", "upgrade", data_dir=tmp_path, XC_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: database error")


def test_short_secret_key_is_refused(tmp_path):
    result = run("db", "upgrade", data_dir=tmp_path, XC_SECRET_KEY="short")
    assert result.returncode == 1
    assert "at least 32 characters" in result.stderr


def test_verify_audit_passes_on_a_fresh_city_and_catches_tampering(tmp_path):
    import sqlite3

    assert run("demo", "load", "--json", data_dir=tmp_path).returncode == 0
    clean = run("verify-audit", "--json", data_dir=tmp_path)
    assert clean.returncode == 0, clean.stderr
    report = json.loads(clean.stdout)
    assert report["ok"] is True and report["tree_size"] >= 6  # the demo's account creations

    with sqlite3.connect(tmp_path / "xingcheng.db") as conn:
        conn.execute("UPDATE audit_entry SET actor_name = 'mallory' WHERE leaf_index = 2")
    tampered = run("verify-audit", data_dir=tmp_path)
    assert tampered.returncode == 1
    assert len(tampered.stderr.strip().splitlines()) == 1
    assert "leaf 2" in tampered.stderr and "modified" in tampered.stderr


def test_keys_rotate_adds_an_active_key(tmp_path):
    first = run("keys", "rotate", "--json", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run("keys", "rotate", "--json", data_dir=tmp_path)
    assert second.returncode == 0, second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert b["previous_key_id"] == a["active_key_id"] != b["active_key_id"]
    assert b["failures"] == []
    keyring = json.loads((tmp_path / "keys" / "field-keys.json").read_text())
    assert oct((tmp_path / "keys" / "field-keys.json").stat().st_mode & 0o777) == "0o600"
    assert len(keyring["keys"]) >= 2
