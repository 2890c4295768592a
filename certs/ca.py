"""Create, locate, bundle and install the local CA. Keys never leave HEADROOM_HOME."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from addon.proxy.home import confdir, headroom_home, private_dir

BASENAME = "mitmproxy"  # mitmproxy looks for <basename>-ca.pem in its confdir
DEBIAN_ANCHOR = Path("/usr/local/share/ca-certificates/headroom-ca.crt")
MACOS_KEYCHAIN = "/Library/Keychains/System.keychain"


@dataclass(frozen=True)
class CaFiles:
    confdir: Path
    cert: Path  # public certificate: what clients trust
    key: Path  # private key + certificate: mode 0600, never shared
    bundle: Path  # system roots + this CA, for tools that replace rather than extend trust


class TrustInstallError(RuntimeError):
    """Installing into the system trust store failed; the message says what to do."""


def ensure_ca(home: Path | None = None) -> CaFiles:
    """Create the CA if missing, tighten permissions, and refresh the trust bundle."""
    from mitmproxy.certs import CertStore

    directory = private_dir(confdir(home or headroom_home()))
    key = directory / f"{BASENAME}-ca.pem"
    if not key.exists():
        CertStore.create_store(directory, BASENAME, 2048)
    for secret in directory.glob(f"{BASENAME}-ca.*"):
        if secret.name != f"{BASENAME}-ca-cert.pem":
            os.chmod(secret, 0o600)
    cert = directory / f"{BASENAME}-ca-cert.pem"
    bundle = directory / "trust-bundle.pem"
    _write_bundle(bundle, cert)
    return CaFiles(directory, cert, key, bundle)


def system_roots() -> Path | None:
    """The system's CA bundle, or certifi's when the system has none we know."""
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"):
        if Path(candidate).is_file():
            return Path(candidate)
    try:
        import certifi

        return Path(certifi.where())
    except ImportError:
        return None


def _write_bundle(bundle: Path, cert: Path) -> None:
    # SSL_CERT_FILE/REQUESTS_CA_BUNDLE replace a tool's trust store: without the system roots,
    # hosts Headroom tunnels untouched (real certificates) would fail verification.
    roots = system_roots()
    data = (roots.read_bytes().rstrip(b"\n") + b"\n" if roots else b"") + cert.read_bytes()
    if not bundle.exists() or bundle.read_bytes() != data:
        tmp = bundle.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(bundle)


def install_system_trust(cert: Path) -> str:
    """Add the CA to the OS trust store; returns what was done, raises TrustInstallError."""
    system = platform.system()
    if system == "Darwin":
        command = ["security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", MACOS_KEYCHAIN, str(cert)]
        if os.geteuid() != 0:
            command = ["sudo", *command]
        return _run(command, "macOS System keychain")
    if system == "Linux" and shutil.which("update-ca-certificates"):
        if os.geteuid() != 0:
            raise TrustInstallError(
                f"installing into the system trust store needs root. Run: sudo {sys.executable} -m scripts.cli ca --install"
                f"  (or copy {cert} to {DEBIAN_ANCHOR} and run sudo update-ca-certificates)"
            )
        DEBIAN_ANCHOR.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cert, DEBIAN_ANCHOR)
        return _run(["update-ca-certificates"], "system trust store (update-ca-certificates)")
    raise TrustInstallError(
        f"no supported trust store tool found on {system}; trust {cert} by hand, "
        "or use `headroom wrap`, which trusts it for one command only"
    )


def _run(command: list[str], where: str) -> str:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise TrustInstallError(f"{command[0]} not found: {e}") from e
    except subprocess.CalledProcessError as e:
        raise TrustInstallError(f"{' '.join(command)} failed: {(e.stderr or e.stdout).strip()}") from e
    return f"installed the Headroom CA into the {where}"
