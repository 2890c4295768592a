"""`headroom doctor` on a good setup (a real proxy running) and on broken ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def doctor(home: Path, port: int, *extra: str, **env: str) -> tuple[int, list[dict]]:
    environment = {**os.environ, "HEADROOM_HOME": str(home), "HEADROOM_PORT": str(port), "HF_HUB_OFFLINE": "1", **env}
    environment.pop("HEADROOM_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "doctor", "--json", *extra], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    return result.returncode, json.loads(result.stdout)


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_a_good_setup_passes_every_check(proxy):
    code, checks = doctor(proxy.home, proxy.port)
    found = by_name(checks)
    assert code == 0, checks
    for name in ("home", "CA", "proxy", "interception", "store", "tokenizer", "text model", "ledger"):
        assert found[name]["ok"], found[name]
    assert "decrypted with Headroom's CA" in found["interception"]["detail"]


def test_a_broken_setup_says_what_to_fix(tmp_path):
    from tests.support.processes import free_port

    home = tmp_path / "home"
    home.mkdir()
    (home / "store").mkdir(mode=0o500)  # the store cannot be written
    port = free_port()  # no proxy there
    code, checks = doctor(home, port, "--redis", "redis://127.0.0.1:1/0")
    found = by_name(checks)
    assert code == 1
    assert not found["proxy"]["ok"] and "scripts/start" in found["proxy"]["fix"]
    if os.geteuid() != 0:  # root writes anywhere
        assert not found["store"]["ok"]
    assert not found["Redis store"]["ok"] and "redis" in found["Redis store"]["fix"]
    assert "interception" not in found  # not tried without a proxy


def test_the_terminal_form_is_one_line_per_check(proxy):
    environment = {**os.environ, "HEADROOM_HOME": str(proxy.home), "HEADROOM_PORT": str(proxy.port), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "scripts.cli", "doctor"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and all(line[:2] in ("✓ ", "! ") for line in lines) and len(lines) >= 8
