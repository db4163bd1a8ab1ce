"""Uploads to a real PACS: Orthanc with its DICOMweb plugin, on loopback, started and stopped by the tests.

STOW-RS (dicomweb-client) and C-STORE (pynetdicom) both store the SEG, and QIDO-RS finds it and WADO-RS and Orthanc
give back the same dataset, byte for byte. A server that is down, refuses, or answers with an error gives a clear
message and exit code 5, and the local file stays. Credentials never show in output or logs.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.request
from pathlib import Path
from typing import ClassVar

import pydicom
import pytest
import SimpleITK as sitk
from test_cli import labelmap_case, segexport

from support.hostile import record


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def dataset_body(data: bytes) -> bytes:
    """The encoded dataset after the file meta group: what a PACS must keep unchanged."""
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) value, right after 'DICM' and its header
    return data[144 + meta_length :]


@pytest.fixture
def written_seg(tmp_path: Path) -> tuple[Path, list[str]]:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    sitk.WriteImage(series.labelmap_image(labels), str(tmp_path / "labels.nrrd"))
    out = tmp_path / "seg.dcm"
    result = segexport("export", tmp_path / "labels.nrrd", "--series", ct_folder, "--metainfo", metainfo, "-o", out)
    assert result.returncode == 0, result.stderr
    return out, ["--series", str(ct_folder), "--metainfo", str(metainfo)]


def orthanc_file(orthanc: object, sop_instance_uid: str) -> bytes:
    request = urllib.request.Request(f"{orthanc.http_url}/tools/lookup", data=sop_instance_uid.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        found = [entry for entry in json.load(answer) if entry["Type"] == "Instance"]
    assert len(found) == 1, f"Orthanc does not hold {sop_instance_uid}"
    with urllib.request.urlopen(f"{orthanc.http_url}/instances/{found[0]['ID']}/file", timeout=10) as answer:
        return answer.read()


def test_stow_rs_stores_the_seg_and_qido_wado_give_it_back(orthanc: object, written_seg: tuple[Path, list]) -> None:
    from dicomweb_client.api import DICOMwebClient

    path, _ = written_seg
    local = pydicom.dcmread(path)
    result = segexport("upload", path, "--stow", orthanc.dicomweb_url)
    assert result.returncode == 0, result.stderr
    assert "stored 1 instance(s) with STOW-RS" in result.stdout

    client = DICOMwebClient(orthanc.dicomweb_url)
    found = client.search_for_instances(search_filters={"SOPInstanceUID": local.SOPInstanceUID})
    assert len(found) == 1
    assert pydicom.Dataset.from_json(found[0]).SeriesInstanceUID == local.SeriesInstanceUID
    retrieved = client.retrieve_instance(local.StudyInstanceUID, local.SeriesInstanceUID, local.SOPInstanceUID)
    assert retrieved.PixelData == local.PixelData
    assert retrieved.PerFrameFunctionalGroupsSequence == local.PerFrameFunctionalGroupsSequence
    assert dataset_body(orthanc_file(orthanc, local.SOPInstanceUID)) == dataset_body(path.read_bytes())


def test_c_store_during_export_stores_the_seg(orthanc: object, written_seg: tuple[Path, list], tmp_path: Path) -> None:
    path, source = written_seg
    out = tmp_path / "stored.dcm"
    result = segexport(
        "export", path.parent / "labels.nrrd", *source, "-o", out,
        "--store", f"127.0.0.1:{orthanc.dicom_port}", "--called-ae", orthanc.aet,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "stored with C-STORE" in result.stdout
    local = pydicom.dcmread(out, stop_before_pixels=True)
    assert dataset_body(orthanc_file(orthanc, local.SOPInstanceUID)) == dataset_body(out.read_bytes())


def test_a_deflated_seg_is_stored_by_both_routes(orthanc: object, written_seg: tuple[Path, list], tmp_path: Path):
    path, source = written_seg
    out = tmp_path / "deflated.dcm"
    result = segexport("export", path.parent / "labels.nrrd", *source, "-o", out, "--compression", "deflate")
    assert result.returncode == 0, result.stderr
    local = pydicom.dcmread(out)
    for route in (["--stow", orthanc.dicomweb_url], ["--store", f"127.0.0.1:{orthanc.dicom_port}", "--called-ae",
                                                    orthanc.aet]):  # fmt: skip
        result = segexport("upload", out, *route)
        assert result.returncode == 0, result.stderr
        stored = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc_file(orthanc, local.SOPInstanceUID)))
        assert stored.PixelData == local.PixelData


def test_a_server_that_is_down_gives_exit_5_and_keeps_the_file(written_seg: tuple[Path, list]) -> None:
    path, _ = written_seg
    before = path.read_bytes()
    port = free_port()  # nothing listens there
    stow = segexport("upload", path, "--stow", f"http://127.0.0.1:{port}/dicom-web")
    assert stow.returncode == 5
    assert "cannot connect" in stow.stderr and f"the SEG is kept at {path}" in stow.stderr
    store = segexport("upload", path, "--store", f"127.0.0.1:{port}")
    assert store.returncode == 5 and "cannot connect" in store.stderr
    assert path.read_bytes() == before
    assert "Traceback" not in stow.stderr + store.stderr


def test_a_refusing_server_gives_a_clear_message(orthanc: object, written_seg: tuple[Path, list]) -> None:
    path, _ = written_seg
    # This Orthanc checks the called AE title.
    wrong_ae = segexport("upload", path, "--store", f"127.0.0.1:{orthanc.dicom_port}", "--called-ae", "NOT-ORTHANC")
    assert wrong_ae.returncode == 5
    assert "refused the association" in wrong_ae.stderr
    wrong_path = segexport("upload", path, "--stow", f"{orthanc.http_url}/no-such-service")
    assert wrong_path.returncode == 5
    assert "HTTP 404" in wrong_path.stderr
    assert path.exists()


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with 401 and remembers the Authorization headers it got."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        self.send_response(401, "Unauthorized")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> str:
    RecordingHandler.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_credentials_are_sent_but_never_shown(refusing_server: str, written_seg: tuple[Path, list]) -> None:
    path, _ = written_seg
    token, password = "tok-5ecret-bearer-value", "pa55-word-never-shown"
    bearer = segexport(
        "--verbose", "upload", path, "--stow", f"http://{refusing_server}/dicom-web", env={"SEGEXPORT_TOKEN": token}
    )
    assert bearer.returncode == 5
    assert "HTTP 401" in bearer.stderr and "check the credentials" in bearer.stderr
    assert RecordingHandler.seen[-1] == f"Bearer {token}"
    basic = segexport(
        "--verbose", "upload", path, "--stow", f"http://someone:{password}@{refusing_server}/dicom-web",
        env={"SEGEXPORT_TOKEN": ""},
    )  # fmt: skip
    assert basic.returncode == 5
    assert RecordingHandler.seen[-1].startswith("Basic ")
    user_option = segexport(
        "--verbose", "upload", path, "--stow", f"http://{refusing_server}/dicom-web", "--user", "someone",
        env={"SEGEXPORT_PASSWORD": password, "SEGEXPORT_TOKEN": ""},
    )  # fmt: skip
    assert user_option.returncode == 5
    for result in (bearer, basic, user_option):
        output = result.stdout + result.stderr
        assert token not in output and password not in output
    assert pydicom.dcmread(path).SOPInstanceUID  # the local SEG is untouched and readable
    assert token.encode() not in path.read_bytes() and password.encode() not in path.read_bytes()
    record(
        "PACS credentials (bearer token, password in the URL, password for --user)",
        3,
        {"sent to the server, never shown in output or logs": 3},
        "--verbose runs against a server answering 401",
    )


def test_tls_is_verified_by_default(refusing_server: str, written_seg: tuple[Path, list]) -> None:
    path, _ = written_seg
    result = segexport("upload", path, "--stow", f"https://{refusing_server}/dicom-web")
    assert result.returncode == 5
    assert "TLS" in result.stderr
