"""Interoperability with DCMTK in both directions: echoscu/storescu -> our SCP, our SCU -> storescp,
transfer syntax negotiation with a peer that accepts only some syntaxes, TLS, and the CLI commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dicomkit.net import ApplicationEntity
from dicomkit.net import tls as T
from dicomkit.net.sync import ServerThread
from dicomkit.net.sync import connect as connect_sync
from dicomkit.services import echo
from dicomkit.services.storage import DirectoryReceiver, StorageSCP
from dicomkit.services.verification import VerificationSCP

from ..conftest import CORPUS, require_tool
from ..peers import DCMTK_ENV, dcmtk, free_port, make_certificates, require_dcmtk_tls, running

pytestmark = pytest.mark.interop  # runs DCMTK / dicom3tools peers

pydicom = pytest.importorskip("pydicom")

UNCOMPRESSED = ["MR2_UNCR.dcm", "693_UNCI.dcm", "emri_small_big_endian.dcm", "SC_rgb.dcm", "OBXXXX1A.dcm",
                "liver.dcm", "mlut_18.dcm", "parametric_map_float.dcm", "color-pl.dcm"]
# syntaxes DCMTK 3.6.7's storescp accepts with +xa (it predates HTJ2K and Deflated Image Frame Compression)
COMPRESSED = ["US1_J2KR.dcm", "RG3_J2KI.dcm", "JPEG-LL.dcm", "JLSL_08_07_0_1F.dcm", "OBXXXX1A_rle_2frame.dcm",
              "JPGLosslessP14SV1_1s_1f_8b.dcm", "liver_rle.dcm"]


def corpus(names: list[str]) -> list[Path]:
    """The files that exist, one per SOP Instance UID (corpus pairs such as MR2_UNCR/MR2_J2KR share one)."""
    paths, seen = [], set()
    for path in (CORPUS / n for n in names):
        if path.exists():
            uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
            if uid not in seen:
                seen.add(uid)
                paths.append(path)
    if not paths:
        pytest.skip(f"corpus not found at {CORPUS}")
    return paths


def same_object(a: Path, b: Path) -> None:
    """The data sets hold the same elements and values (pydicom as the oracle; meta excluded)."""
    x, y = pydicom.dcmread(a), pydicom.dcmread(b)
    assert x.SOPInstanceUID == y.SOPInstanceUID
    # DCMTK drops Data Set Trailing Padding and may add or drop group lengths when it sends: not data
    for ds in (x, y):
        for tag in [t for t in ds.keys() if t == 0xFFFCFFFC or t.element == 0]:  # noqa: SIM118
            del ds[tag]
    tx, ty = x.file_meta.TransferSyntaxUID, y.file_meta.TransferSyntaxUID
    if "PixelData" in x and tx != ty and tx.is_little_endian != ty.is_little_endian:
        # re-encoded in the other byte order: compare the pixel values, not the raw bytes
        assert _swap(x.PixelData, x.BitsAllocated) == y.PixelData
        del x.PixelData, y.PixelData
    assert x.keys() == y.keys(), f"{a.name}: elements differ"
    for tag in x.keys():  # noqa: SIM118 -- values, not VRs: DCMTK corrects encapsulated Pixel Data written as OW to OB
        assert x[tag].value == y[tag].value, f"{a.name}: {x[tag]} differs from {y[tag]}"


def _swap(data: bytes, bits: int) -> bytes:
    """Pixel words in the other byte order (PS3.5 7.3: OW values follow the transfer syntax's order)."""
    size = bits // 8
    if size <= 1:
        return data
    return b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))


def received_files(folder: Path) -> list[Path]:
    """The objects a receiver wrote (storescp names them without a suffix; ours keep a hidden work folder)."""
    return sorted(p for p in folder.iterdir() if p.is_file())


def our_scp(folder: Path, **options) -> ApplicationEntity:
    ae = ApplicationEntity("DKSCP", **options)
    ae.add_service(VerificationSCP())
    ae.add_service(StorageSCP(DirectoryReceiver(folder)))
    return ae


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dicomkit.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_echoscu_to_our_scp(tmp_path):
    with ServerThread(our_scp(tmp_path), "127.0.0.1", 0) as server:
        out = dcmtk("echoscu", "-v", "-aec", "DKSCP", "127.0.0.1", str(server.port))
    assert out.returncode == 0, out.stderr
    assert "Received Echo Response (Success)" in out.stderr + out.stdout


# storescu proposes compressed syntaxes only when told which: (option, files)
# (-R: propose only the SOP classes of the files given)
STORESCU_RUNS = [(("-R",), UNCOMPRESSED), (("-R", "-xv"), ["MR2_J2KR.dcm", "emri_small_jpeg_2k_lossless.dcm"]),
                 (("-R", "-xs"), ["JPEG-LL.dcm"]), (("-R", "-xt"), ["emri_small_jpeg_ls_lossless.dcm"])]


@pytest.mark.parametrize("options,names", STORESCU_RUNS, ids=["uncompressed", "j2k", "jpeg-lossless", "jpeg-ls"])
def test_storescu_to_our_scp(tmp_path, options, names):
    files = corpus(names)
    with ServerThread(our_scp(tmp_path / "in"), "127.0.0.1", 0) as server:
        out = dcmtk("storescu", *options, "-aec", "DKSCP", "127.0.0.1", str(server.port), *map(str, files))
    assert out.returncode == 0, out.stderr
    for src in files:
        uid = pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID
        got = tmp_path / "in" / f"{uid}.dcm"
        assert got.exists(), f"{src.name} not received: {out.stderr[-500:]}"
        same_object(src, got)
        if len(options) > 1:  # compressed objects arrive in their own transfer syntax
            assert pydicom.dcmread(got).file_meta.TransferSyntaxUID == pydicom.dcmread(src).file_meta.TransferSyntaxUID


def test_our_scu_to_storescp(tmp_path):
    files = corpus(UNCOMPRESSED + COMPRESSED)
    port = free_port()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with running([require_tool("storescp"), "+xa", "-od", str(out_dir), str(port)], port):
        result = cli("store", "127.0.0.1", str(port), *map(str, files), "--aec", "STORESCP", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"sent {len(files)} of {len(files)} instances" in result.stdout
    received = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in received_files(out_dir)}
    for src in files:
        same_object(src, received[pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID])


def test_peer_accepting_only_implicit_vr(tmp_path):
    """storescp +xi accepts Implicit VR Little Endian only: our SCU re-encodes uncompressed files and
    decompresses the compressed ones (losslessly: the same pixels arrive)."""
    import numpy as np

    import dicomkit

    files = corpus(["MR2_UNCR.dcm", "emri_small_big_endian.dcm", "US1_J2KR.dcm", "JPEG-LL.dcm"])
    port = free_port()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with running([require_tool("storescp"), "+xi", "-od", str(out_dir), str(port)], port):
        result = cli("store", "127.0.0.1", str(port), *map(str, files), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 4 of 4 instances" in result.stdout
    received = list(received_files(out_dir))
    assert len(received) == 4
    for path in received:
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
        src = next(f for f in files if pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID == ds.SOPInstanceUID)
        original = dicomkit.read(src)
        if original.transfer_syntax is not None and original.transfer_syntax.is_encapsulated:
            assert np.array_equal(dicomkit.read(path).pixel_array, original.pixel_array)
        else:
            same_object(src, path)


def test_receive_command_with_storescu(tmp_path):
    files = corpus(["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"])
    port = free_port()
    out_dir = tmp_path / "rx"
    args = [sys.executable, "-m", "dicomkit.cli.main", "receive", "--port", str(port), "--host", "127.0.0.1",
            "--aet", "RX", "--output", str(out_dir)]
    with running(args, port, env=None) as proc:
        out = dcmtk("storescu", "-R", "-xs", "-aec", "RX", "127.0.0.1", str(port), *map(str, files))
        assert out.returncode == 0, out.stderr
        echo = cli("echo", "127.0.0.1", str(port), "--aec", "RX")
        assert echo.returncode == 0 and "Success (0x0000)" in echo.stdout
    printed = proc.stdout.read().decode() if proc.stdout else ""
    for src in files:
        uid = pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID
        assert (out_dir / f"{uid}.dcm").exists()
        assert uid in printed  # one line per instance
        same_object(src, out_dir / f"{uid}.dcm")


def test_echo_command_against_storescp_and_failures():
    port = free_port()
    with running([require_tool("storescp"), str(port)], port):
        ok = cli("echo", "127.0.0.1", str(port), "-n", "2")
    assert ok.returncode == 0 and ok.stdout.count("Success (0x0000)") == 2
    closed = cli("echo", "127.0.0.1", str(free_port()), "--timeout", "2")
    assert closed.returncode == 1 and "cannot connect" in closed.stderr


# -- TLS --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def test_tls_storescu_to_our_scp(tmp_path, certs):
    require_dcmtk_tls()
    ctx = T.server_context(certs["server.pem"], certs["server.key"], ca=certs["ca.pem"])
    src = corpus(["MR2_UNCR.dcm"])[0]
    with ServerThread(our_scp(tmp_path / "in"), "127.0.0.1", 0, tls=ctx) as server:
        out = dcmtk("storescu", "+tls", str(certs["client.key"]), str(certs["client.pem"]), "+cf",
                    str(certs["ca.pem"]), "-aec", "DKSCP", "127.0.0.1", str(server.port), str(src))
        assert out.returncode == 0, out.stderr
        # without a client certificate the handshake is refused (certificates are required)
        anon = dcmtk("echoscu", "+tla", "+cf", str(certs["ca.pem"]), "127.0.0.1", str(server.port), timeout=30)
        assert anon.returncode != 0
    same_object(src, next((tmp_path / "in").glob("*.dcm")))


def test_tls_our_scu_to_storescp(tmp_path, certs):
    require_dcmtk_tls()
    port = free_port()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    src = corpus(["liver.dcm"])[0]
    args = [require_tool("storescp"), "+tls", str(certs["server.key"]), str(certs["server.pem"]), "+cf",
            str(certs["ca.pem"]), "-od", str(out_dir), str(port)]
    with running(args, port):
        result = cli("store", "127.0.0.1", str(port), str(src), "--tls-ca", str(certs["ca.pem"]), "--tls-cert",
                     str(certs["client.pem"]), "--tls-key", str(certs["client.key"]), "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        # a server we do not trust is refused
        untrusted = cli("echo", "127.0.0.1", str(port), "--tls", "--tls-cert", str(certs["client.pem"]),
                        "--tls-key", str(certs["client.key"]), "--timeout", "5")
        assert untrusted.returncode == 1 and "TLS" in untrusted.stderr
    same_object(src, received_files(out_dir)[0])


def test_tls_between_our_own_scu_and_scp(tmp_path, certs):
    server_ctx = T.server_context(certs["server.pem"], certs["server.key"], ca=certs["ca.pem"], profile="bcp195-ex")
    client_ctx = T.client_context(ca=certs["ca.pem"], cert=certs["client.pem"], key=certs["client.key"],
                                  check_hostname=True, profile="bcp195-ex")
    server = ServerThread(our_scp(tmp_path), "127.0.0.1", 0, tls=server_ctx)
    try:
        with connect_sync("127.0.0.1", server.port, tls=client_ctx) as assoc:
            assert assoc.call(echo).is_success
            peer = assoc.association.protocol.transport.get_extra_info("ssl_object")
            assert peer.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        server.stop()
    assert DCMTK_ENV["TCP_NODELAY"] == "1"


def test_receive_options_accept_and_require_aet(tmp_path):
    """dicomkit store -> dicomkit receive --accept ImplicitVRLittleEndian --require-aet: the file arrives
    re-encoded; a wrong called AE title is rejected with the reason, exit code 1."""
    src = corpus(["MR2_UNCR.dcm"])[0]
    port = free_port()
    out_dir = tmp_path / "rx"
    args = [sys.executable, "-m", "dicomkit.cli.main", "receive", "--port", str(port), "--host", "127.0.0.1",
            "--aet", "RX", "--output", str(out_dir), "--accept", "ImplicitVRLittleEndian", "--require-aet"]
    with running(args, port, env=None):
        wrong = cli("store", "127.0.0.1", str(port), str(src), "--aec", "OTHER", "--no-progress")
        sent = cli("store", "127.0.0.1", str(port), str(src), "--aec", "RX", "--no-progress", "--async-ops", "4")
    assert wrong.returncode == 1 and "called-AE-title-not-recognized" in wrong.stderr
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "asynchronous operations window: 4" in sent.stderr
    got = received_files(out_dir)[0]
    assert pydicom.dcmread(got).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    same_object(src, got)
