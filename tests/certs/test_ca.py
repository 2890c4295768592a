"""The local CA: created once under HEADROOM_HOME, private, bundled with the system roots.

Tests run as root, so nothing here may install into the real trust store: the install tests
pretend to be a normal user (or another OS) and guard every call that would change the system.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

import certs.ca as ca
from certs.ca import TrustInstallError, ensure_ca, install_system_trust, system_roots


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def no_system_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fail loudly instead of touching the real trust store or running anything."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"test tried to change the system: {args}")

    monkeypatch.setattr(ca, "DEBIAN_ANCHOR", tmp_path / "anchor" / "headroom-ca.crt")
    monkeypatch.setattr(ca.shutil, "copyfile", refuse)
    monkeypatch.setattr(ca.subprocess, "run", refuse)


def test_ensure_ca_creates_the_ca_under_home_certs(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path)
    assert files.confdir == tmp_path / "certs"
    assert files.cert == tmp_path / "certs" / "mitmproxy-ca-cert.pem"
    assert files.key == tmp_path / "certs" / "mitmproxy-ca.pem"
    assert files.bundle == tmp_path / "certs" / "trust-bundle.pem"
    for path in (files.cert, files.key, files.bundle, tmp_path / "certs" / "mitmproxy-ca.p12"):
        assert path.is_file()


def test_ca_directory_and_private_keys_are_owner_only(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path)
    assert mode(files.confdir) == 0o700
    assert mode(files.confdir / "mitmproxy-ca.pem") == 0o600
    assert mode(files.confdir / "mitmproxy-ca.p12") == 0o600
    assert b"PRIVATE KEY" in files.key.read_bytes()
    assert b"PRIVATE KEY" not in files.cert.read_bytes()
    assert files.cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_loose_permissions_are_tightened_on_the_next_call(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path)
    files.confdir.chmod(0o755)
    files.key.chmod(0o644)
    (files.confdir / "mitmproxy-ca.p12").chmod(0o666)
    ensure_ca(tmp_path)
    assert mode(files.confdir) == 0o700
    assert mode(files.key) == 0o600
    assert mode(files.confdir / "mitmproxy-ca.p12") == 0o600


def test_an_existing_world_readable_certs_dir_is_made_private(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir(mode=0o755)
    (tmp_path / "certs").chmod(0o755)
    assert mode(ensure_ca(tmp_path).confdir) == 0o700


def test_a_missing_home_is_created_private(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    files = ensure_ca(home)
    assert mode(tmp_path / "new") == 0o700
    assert mode(home) == 0o700
    assert files.cert.is_file()


def test_calling_twice_keeps_the_same_ca(tmp_path: Path) -> None:
    first = ensure_ca(tmp_path)
    before = {p.name: p.read_bytes() for p in first.confdir.iterdir()}
    second = ensure_ca(tmp_path)
    assert second == first
    assert {p.name: p.read_bytes() for p in second.confdir.iterdir()} == before


def test_separate_homes_get_separate_cas(tmp_path: Path) -> None:
    a = ensure_ca(tmp_path / "a")
    b = ensure_ca(tmp_path / "b")
    assert a.cert.read_bytes() != b.cert.read_bytes()


def test_the_certificate_is_a_ca(tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(ensure_ca(tmp_path).cert.read_bytes())
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is True
    assert cert.subject == cert.issuer  # self-signed root


def test_trust_bundle_is_the_system_roots_then_the_ca(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path)
    roots = system_roots()
    assert roots is not None
    bundle = files.bundle.read_bytes()
    cert = files.cert.read_bytes()
    assert bundle.endswith(cert)
    assert bundle == roots.read_bytes().rstrip(b"\n") + b"\n" + cert
    # The CA is a whole PEM block of its own, not glued to the last root.
    parsed = x509.load_pem_x509_certificates(bundle)
    assert len(parsed) > 1
    assert parsed[-1] == x509.load_pem_x509_certificate(cert)


def test_the_bundle_is_rewritten_when_stale(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path)
    good = files.bundle.read_bytes()
    files.bundle.write_bytes(b"stale")
    ensure_ca(tmp_path)
    assert files.bundle.read_bytes() == good
    assert not files.bundle.with_suffix(".tmp").exists()


def test_the_bundle_without_known_system_roots_is_just_the_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ca, "system_roots", lambda: None)
    files = ensure_ca(tmp_path)
    assert files.bundle.read_bytes() == files.cert.read_bytes()


def test_non_root_linux_is_told_to_use_sudo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_changes: None
) -> None:
    cert = ensure_ca(tmp_path).cert
    monkeypatch.setattr(ca.platform, "system", lambda: "Linux")
    monkeypatch.setattr(ca.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(ca.shutil, "which", lambda name: f"/usr/sbin/{name}")  # whatever this machine has
    with pytest.raises(TrustInstallError) as excinfo:
        install_system_trust(cert)
    message = str(excinfo.value)
    assert "needs root" in message
    assert "sudo" in message
    assert "ca --install" in message
    assert str(cert) in message
    assert not ca.DEBIAN_ANCHOR.exists()


def test_unsupported_systems_are_told_to_trust_the_file_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_changes: None
) -> None:
    cert = ensure_ca(tmp_path).cert
    monkeypatch.setattr(ca.platform, "system", lambda: "Windows")
    with pytest.raises(TrustInstallError) as excinfo:
        install_system_trust(cert)
    message = str(excinfo.value)
    assert "Windows" in message
    assert f"trust {cert} by hand" in message
    assert "headroom wrap" in message


def test_linux_without_update_ca_certificates_is_told_to_trust_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_changes: None
) -> None:
    cert = ensure_ca(tmp_path).cert
    monkeypatch.setattr(ca.platform, "system", lambda: "Linux")
    monkeypatch.setattr(ca.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(ca.shutil, "which", lambda name: None)
    with pytest.raises(TrustInstallError, match="by hand"):
        install_system_trust(cert)


def test_macos_as_a_user_goes_through_sudo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert = tmp_path / "ca.pem"
    ran: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(ca.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(ca.os, "geteuid", lambda: 501)
    monkeypatch.setattr(ca.subprocess, "run", fake_run)
    assert install_system_trust(cert) == "installed the Headroom CA into the macOS System keychain"
    assert ran == [["sudo", "security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", ca.MACOS_KEYCHAIN, str(cert)]]


def test_a_failing_trust_tool_becomes_a_trust_install_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(command: list[str], **kwargs: object) -> None:
        raise subprocess.CalledProcessError(1, command, output="", stderr="  User canceled  \n")

    monkeypatch.setattr(ca.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(ca.os, "geteuid", lambda: 0)
    monkeypatch.setattr(ca.subprocess, "run", failing)
    with pytest.raises(TrustInstallError, match=r"^security add-trusted-cert .* failed: User canceled$"):
        install_system_trust(tmp_path / "ca.pem")


def test_a_missing_trust_tool_becomes_a_trust_install_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(command: list[str], **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", command[0])

    monkeypatch.setattr(ca.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(ca.os, "geteuid", lambda: 0)
    monkeypatch.setattr(ca.subprocess, "run", missing)
    with pytest.raises(TrustInstallError, match=r"^security not found"):
        install_system_trust(tmp_path / "ca.pem")
