"""Sending a written SEG to a PACS: DICOMweb STOW-RS or DIMSE C-STORE.

Both import their client library only when called (``dicomweb-client`` for STOW-RS,
``pynetdicom`` for C-STORE), so the core runs without them. The SEG file on disk is
never touched: a failed upload raises :class:`UploadError` saying what went wrong, and
the local file stays where it was written. Credentials are used for the request only:
they never appear in messages, logs or exceptions (URLs are shown without user info).

>>> stow_rs("seg.dcm", "https://pacs.example.org/dicom-web", token=os.environ["PACS_TOKEN"])  # doctest: +SKIP
UploadResult(destination='https://pacs.example.org/dicom-web', detail='stored 1 instance ...')
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pydicom

from .errors import SegExportError

logger = logging.getLogger(__name__)

TIMEOUT_S = 60.0


class UploadError(SegExportError):
    """An upload that did not store the SEG; the message says why (never with credentials)."""


@dataclass
class UploadResult:
    destination: str
    """Where the SEG went (URL without credentials, or AE@host:port)."""
    detail: str


def redact_url(url: str) -> str:
    """``url`` without user name, password, query or fragment, for messages.

    >>> redact_url("https://alice:secret@pacs.example.org:8443/dicom-web?token=abc")
    'https://pacs.example.org:8443/dicom-web'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _read(path: str | os.PathLike[str]) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(os.fspath(path))
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise UploadError(f"cannot read {path} for upload: {exc}") from exc


def stow_rs(
    path: str | os.PathLike[str],
    url: str,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    verify: bool | str = True,
    timeout: float = TIMEOUT_S,
) -> UploadResult:
    """Store the SEG at ``path`` with DICOMweb STOW-RS at the service root ``url``.

    ``token`` sends ``Authorization: Bearer``; ``username``/``password`` send basic authentication. ``verify`` is
    True (check TLS certificates against the system's authorities), a CA bundle path, or False (not checked:
    only for test servers).
    """
    try:
        import requests
        from dicomweb_client.api import DICOMwebClient
    except ImportError as exc:
        raise UploadError("STOW-RS needs dicomweb-client: pip install dicomweb-client") from exc
    shown = redact_url(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UploadError(f"{shown!r} is not a DICOMweb URL: give the service root, e.g. https://host/dicom-web")
    if token and (username or password):
        raise UploadError("give either a bearer token or a user name and password, not both")
    dataset = _read(path)
    session = requests.Session()
    session.verify = verify
    if username is not None or password is not None or parts.username:
        session.auth = (username or parts.username or "", password or parts.password or "")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    clean_url = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, parts.query, ""))
    try:
        client = DICOMwebClient(clean_url, session=session, headers=headers)
        client.set_http_retry_params(retry=False)
        session.request = _with_timeout(session.request, timeout)  # type: ignore[method-assign]
        response = client.store_instances([dataset])
    except requests.exceptions.SSLError:
        raise UploadError(
            f"STOW-RS to {shown} failed: the TLS connection could not be set up or its certificate could not be "
            "verified (is it an https server? is its certificate trusted? give its CA bundle with --ca-bundle)"
        ) from None
    except requests.exceptions.ConnectionError:
        raise UploadError(
            f"STOW-RS to {shown} failed: cannot connect (is the server running and the URL right?)"
        ) from None
    except requests.exceptions.Timeout:
        raise UploadError(f"STOW-RS to {shown} failed: no answer within {timeout:.0f} s") from None
    except requests.exceptions.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        reason = exc.response.reason if exc.response is not None else ""
        hint = " (check the credentials)" if status in (401, 403) else ""
        raise UploadError(f"STOW-RS to {shown} failed: the server answered HTTP {status} {reason}{hint}") from None
    except Exception as exc:  # dicomweb-client raises plain errors for unexpected answers
        raise UploadError(f"STOW-RS to {shown} failed: {type(exc).__name__}: {_redacted(str(exc), url)}") from None
    failed = response.get("FailedSOPSequence") if response is not None else None
    if failed:
        reasons = sorted({f"0x{int(item.get('FailureReason', 0)):04X}" for item in failed})
        raise UploadError(f"STOW-RS to {shown}: the server refused the SEG (failure reason {', '.join(reasons)})")
    stored = len(response.get("ReferencedSOPSequence", [])) if response is not None else 1
    logger.info("stored %s at %s", Path(path).name, shown)
    return UploadResult(shown, f"stored {stored} instance(s) with STOW-RS")


def _with_timeout(request, timeout: float):  # type: ignore[no-untyped-def]
    def bounded(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("timeout", timeout)
        return request(*args, **kwargs)

    return bounded


def _redacted(text: str, url: str) -> str:
    parts = urlsplit(url)
    for secret in (parts.password, parts.username, url):
        if secret:
            text = text.replace(secret, "***")
    return text


def c_store(
    path: str | os.PathLike[str],
    host: str,
    port: int,
    called_ae: str = "ANY-SCP",
    calling_ae: str = "SEGEXPORT",
    timeout: float = TIMEOUT_S,
) -> UploadResult:
    """Store the SEG at ``path`` with a DIMSE C-STORE to ``called_ae`` at ``host:port``."""
    try:
        from pynetdicom import AE

        if not logger.isEnabledFor(logging.DEBUG):  # its own error lines would repeat ours, less clearly
            logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    except ImportError as exc:
        raise UploadError("C-STORE needs pynetdicom: pip install pynetdicom") from exc
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    for title, what in ((called_ae, "called"), (calling_ae, "calling")):
        if not title or len(title) > 16 or "\\" in title or not title.isprintable():
            raise UploadError(f"{what} AE title {title!r} is not valid: 1 to 16 printable characters, no backslash")
    destination = f"{called_ae}@{host}:{port}"
    dataset = _read(path)
    try:  # tell "nobody listens" apart from a refusal, which pynetdicom reports alike
        socket.create_connection((host, int(port)), timeout=min(timeout, 15.0)).close()
    except OSError as exc:
        raise UploadError(
            f"C-STORE to {destination} failed: cannot connect ({exc.strerror or exc}; is the server running, and "
            "the host and port right?)"
        ) from None
    syntax = dataset.file_meta.TransferSyntaxUID
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = min(timeout, 15.0)
    ae.add_requested_context(
        dataset.SOPClassUID, list(dict.fromkeys([syntax, ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
    )
    association = ae.associate(host, int(port), ae_title=called_ae)
    if not association.is_established:
        how = "rejected" if association.is_rejected else "aborted" if association.is_aborted else "did not accept"
        raise UploadError(
            f"C-STORE to {destination} failed: the server refused the association ({how}); check the called AE "
            "title, and that the PACS accepts our AE title and this host"
        )
    try:
        status = association.send_c_store(dataset)
    finally:
        association.release()
    code = getattr(status, "Status", None)
    if code is None:
        raise UploadError(f"C-STORE to {destination} failed: no answer (connection lost or timed out)")
    if code != 0x0000:
        raise UploadError(f"C-STORE to {destination} failed: status 0x{int(code):04X}")
    logger.info("stored %s at %s", Path(path).name, destination)
    return UploadResult(destination, "stored with C-STORE (status 0x0000)")
