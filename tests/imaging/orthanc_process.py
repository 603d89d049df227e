"""A real Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``) run as a foreground child of the test session.

Its own config, storage and index in a temporary directory, HTTP on a free loopback port with basic auth, the
DICOM listener off, ``StableAge`` 1 s so the change feed's StableStudy comes quickly. Never the system service.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ORTHANC = os.environ.get("FHIR_SERVER_TEST_ORTHANC", "/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = os.environ.get(
    "FHIR_SERVER_TEST_ORTHANC_DICOMWEB", "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
)
USER = "fhir"


def available() -> bool:
    return Path(ORTHANC).exists() and Path(DICOMWEB_PLUGIN).exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OrthancProcess:
    """One Orthanc server: ``start()``, ``stop()`` (SIGTERM), ``kill()`` (SIGKILL, for fault tests)."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fhir-orthanc-")))
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, self.password

    def config(self) -> dict[str, object]:
        return {
            "Name": "fhir-server-tests",
            "StorageDirectory": str(self.directory / "storage"),
            "IndexDirectory": str(self.directory / "index"),
            "HttpPort": self.port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: self.password},
            "DicomServerEnabled": False,
            "DicomPort": free_port(),
            "OrthancExplorerEnabled": False,
            "WebDavEnabled": False,
            "HttpCompressionEnabled": False,
            "StableAge": 1,
            "SaveJobs": False,
            "OverwriteInstances": False,
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {
                "Enable": True,
                "Root": "/dicom-web/",
                "EnableWado": True,
                "WadoRoot": "/wado",
                "Ssl": False,
                "StudiesMetadata": "Full",
                "SeriesMetadata": "Full",
            },
        }

    def start(self) -> None:
        config = self.directory / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=2))
        self.process = subprocess.Popen(
            [ORTHANC, f"--logfile={self.directory / 'orthanc.log'}", str(config)],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited ({self.process.returncode}): {self.log()[-2000:]}")
            try:
                plugins = httpx.get(f"{self.url}/plugins", auth=self.auth, timeout=1).json()
                if "dicom-web" in plugins:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("Orthanc did not become ready within 30 s")

    def log(self) -> str:
        path = self.directory / "orthanc.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def clear(self) -> None:
        """Delete every patient (and so every study) Orthanc holds."""
        with httpx.Client(base_url=self.url, auth=self.auth, timeout=30) as client:
            for patient in client.get("/patients").json():
                client.delete(f"/patients/{patient}").raise_for_status()

    def rest(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=30)
