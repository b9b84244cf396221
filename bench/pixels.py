"""Pixel data decoding speed and memory: dicomkit vs pydicom (+ pylibjpeg plugins) on the same files.

For each transfer syntax: read the file from disk and decode every frame to a numpy array, in the same
process, several rounds; prints median frames/s of each and the ratio. Then dicomkit's default (threads on
every core) against its own single-threaded decoding (threads=1), rounds alternating, with the median
ratio and the range of the per-round ratios. Then the memory (tracemalloc peak) and time of reading frame 1
of a large multi-frame file.

    python bench/pixels.py [--rounds 5] [--quick] [--only "JPEG 2000"]

Test files come from ../shared/corpus and are derived from it into bench/data/ (git-ignored) with
dicomkit's own encoders (DCMTK's dcmcjpeg for JPEG Baseline when installed).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import dicomkit
from dicomkit.pixels import default_threads, pixel_array, set_pixel_data, transcode

ROOT = Path(__file__).resolve().parent
# ../shared beside the checkout (as in CI); DICOMKIT_SHARED overrides it (as for the tests).
CORPUS = Path(os.environ.get("DICOMKIT_SHARED", ROOT.parent.parent / "shared")) / "corpus"
DATA = ROOT / "data" / "pixels"


def _multiframe(frames: int, rows: int, columns: int, seed: int = 0) -> dicomkit.Dataset:
    """A 12-bit multi-frame MR-like series made from a corpus image (smooth data, as codecs expect)."""
    base = dicomkit.read(CORPUS / "MR2_UNCR.dcm")
    image = base.frame(0)[:rows, :columns].astype(np.int32)
    rng = np.random.default_rng(seed)
    stack = np.empty((frames, rows, columns), dtype=np.uint16)
    for i in range(frames):
        stack[i] = np.clip(np.roll(image, i * 3, axis=1) + rng.integers(-2, 3, image.shape), 0, 4095)
    ds = base.copy()
    set_pixel_data(ds, stack, bits_stored=12)
    return ds


def prepare(quick: bool) -> list[tuple[str, Path]]:
    """(label, file) for each case; derived files are made once."""
    DATA.mkdir(parents=True, exist_ok=True)
    n = 8 if quick else 32
    cases: list[tuple[str, Path]] = []

    def derived(name: str, make: Callable[[], dicomkit.Dataset]) -> Path:
        path = DATA / name
        if not path.exists():
            make().save(path)
        return path

    mf = derived(f"mf{n}_native.dcm", lambda: transcode(_multiframe(n, 512, 512), "explicit"))
    cases.append((f"Explicit VR LE, {n}x512x512x16", mf))
    cases.append(("Explicit VR LE, 1024x1024x16 (MR2)", CORPUS / "MR2_UNCR.dcm"))
    cases.append(("Explicit VR LE, RGB 480x640 (US1)", CORPUS / "US1_UNCR.dcm"))
    cases.append((f"Explicit VR Big Endian, {n}x512x512x16",
                  derived(f"mf{n}_be.dcm", lambda: transcode(dicomkit.read(mf), "big"))))
    cases.append(("Explicit VR LE, 1-bit 3x512x512 (liver)", CORPUS / "liver.dcm"))
    for alias, label in [("rle", "RLE Lossless"), ("jpeg-sv1", "JPEG Lossless SV1"),
                         ("jpeg-extended", "JPEG Extended 12-bit"), ("jpeg-ls", "JPEG-LS Lossless"),
                         ("j2k-lossless", "JPEG 2000 Lossless"), ("j2k", "JPEG 2000 lossy"),
                         ("htj2k-lossless", "HTJ2K Lossless"), ("htj2k", "HTJ2K lossy")]:
        cases.append((f"{label}, {n}x512x512x12",
                      derived(f"mf{n}_{alias}.dcm", lambda a=alias: transcode(dicomkit.read(mf), a))))
    baseline = DATA / "us1_jpeg_baseline.dcm"
    if not baseline.exists():
        if shutil.which("dcmcjpeg"):
            subprocess.run(["dcmcjpeg", "+eb", str(CORPUS / "US1_UNCR.dcm"), str(baseline)], check=True)
        else:
            transcode(dicomkit.read(CORPUS / "US1_UNCR.dcm"), "jpeg-baseline").save(baseline)
    cases.append(("JPEG Baseline, RGB 480x640 (US1)", baseline))
    cases.append(("RLE Lossless, palette 600x800 (OBXXXX1A)", CORPUS / "OBXXXX1A_rle.dcm"))
    cases.append(("JPEG 2000 Lossless, 1024x1024 (MR2)", CORPUS / "MR2_J2KR.dcm"))
    cases.append(("JPEG 2000 lossy, 1955x1841 (RG1)", CORPUS / "RG1_J2KI.dcm"))
    cases.append(("HTJ2K Lossless, RGB 480x640", CORPUS / "HTJ2KLossless_08_RGB.dcm"))
    cases.append(("Deflated Image Frame, 1-bit 3x512x512", CORPUS / "liver_deflate.dcm"))
    return cases


def decode_dicomkit(path: Path) -> np.ndarray:
    return dicomkit.read(path).pixel_array


def decode_pydicom(path: Path) -> np.ndarray:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path).pixel_array


def timed(fn: Callable[[Path], np.ndarray], path: Path, rounds: int) -> tuple[float, np.ndarray]:
    result = fn(path)  # warm up (file cache, imports)
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        result = fn(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def speed(rounds: int, quick: bool, only: str | None = None) -> None:
    print(f"{'case':44} {'frames':>6} {'dicomkit f/s':>13} {'pydicom f/s':>12} {'ratio':>7}")
    for label, path in prepare(quick):
        if only and only.lower() not in label.lower():
            continue
        t_ours, ours = timed(decode_dicomkit, path, rounds)
        frames = _frames(path)
        try:
            t_theirs, theirs = timed(decode_pydicom, path, rounds)
        except Exception as exc:  # pydicom lacks some transfer syntaxes
            print(f"{label:44} {frames:6d} {frames / t_ours:13.1f} {'n/a':>12} {'':>7}  "
                  f"(pydicom: {type(exc).__name__})")
            continue
        theirs = np.asarray(theirs)
        if ours.shape != theirs.shape:
            note = f"  (shapes differ: {ours.shape} vs {theirs.shape})"
        elif np.array_equal(ours, theirs):
            note = ""
        else:
            diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
            note = f"  (outputs differ by up to {diff.max()}: the JPEG libraries' IDCT and chroma upsampling)"
        print(f"{label:44} {frames:6d} {frames / t_ours:13.1f} {frames / t_theirs:12.1f} "
              f"{t_theirs / t_ours:6.2f}x{note}")
        sys.stdout.flush()


def _frames(path: Path) -> int:
    return int(dicomkit.read(path, stop_before_pixels=True).get("NumberOfFrames") or 1)


# The cases of the threads table: every JPEG 2000 / HTJ2K case, the other codecs that decode frames on
# threads, and small frames (which must not get slower).
THREADED = ("JPEG 2000", "HTJ2K", "JPEG-LS", "JPEG Lossless SV1", "JPEG Extended")


def threads(rounds: int, quick: bool, only: str | None = None) -> None:
    n = default_threads()
    print(f"\ndicomkit with threads (default: {n}) vs threads=1, same run, rounds alternating; "
          "median f/s, ratio of medians, [lowest-highest ratio of a round]")
    print(f"{'case':44} {'frames':>6} {'1 thread f/s':>13} {f'{n} threads f/s':>15} {'ratio':>7}")
    cases = [c for c in prepare(quick) if any(k in c[0] for k in THREADED)]
    cases += [("JPEG 2000 Lossless, 10x64x64 (emri_small)", CORPUS / "emri_small_jpeg_2k_lossless.dcm"),
              ("JPEG-LS Lossless, 10x64x64 (emri_small)", CORPUS / "emri_small_jpeg_ls_lossless.dcm"),
              ("JPEG 2000 Lossless, 3x512x512 1-bit (liver)", CORPUS / "liver_j2k.dcm")]
    for label, path in cases:
        if only and only.lower() not in label.lower():
            continue
        frames = _frames(path)

        def one(p: Path = path) -> np.ndarray:
            return pixel_array(dicomkit.read(p), threads=1)

        def many(p: Path = path) -> np.ndarray:
            return pixel_array(dicomkit.read(p))

        assert np.array_equal(one(), many())  # warm up, and the same arrays
        t1, tn, ratios = [], [], []
        for _ in range(rounds):
            gc.collect()
            start = time.perf_counter()
            one()
            a = time.perf_counter() - start
            gc.collect()
            start = time.perf_counter()
            many()
            b = time.perf_counter() - start
            t1.append(a)
            tn.append(b)
            ratios.append(a / b)
        m1, mn = statistics.median(t1), statistics.median(tn)
        print(f"{label:44} {frames:6d} {frames / m1:13.1f} {frames / mn:15.1f} {m1 / mn:6.2f}x "
              f"[{min(ratios):.2f}-{max(ratios):.2f}]")
        sys.stdout.flush()


def memory(frames: int) -> None:
    """Peak memory and time to get frame 1 (index 0) of a large multi-frame file."""
    path = DATA / f"large_{frames}_native.dcm"
    jls = DATA / f"large_{frames}_jpeg-ls.dcm"
    if not path.exists():
        ds = _multiframe(frames, 512, 512)
        transcode(ds, "explicit").save(path)
        transcode(ds, "jpeg-ls").save(jls)
    size = path.stat().st_size
    print(f"\nframe 1 of {frames} frames of 512x512x16 ({size / 2**20:.0f} MiB native, "
          f"{jls.stat().st_size / 2**20:.0f} MiB JPEG-LS): tracemalloc peak and time")

    def dk(p: Path) -> np.ndarray:
        return dicomkit.read(p).frame(0)

    def pd_full(p: Path) -> np.ndarray:
        import pydicom

        return pydicom.dcmread(p).pixel_array[0]

    def pd_index(p: Path) -> np.ndarray:
        from pydicom.pixels import pixel_array

        return pixel_array(p, index=0)

    for label, fn in (("dicomkit read(path).frame(0)", dk), ("pydicom dcmread(path).pixel_array[0]", pd_full),
                      ("pydicom pixels.pixel_array(path, index=0)", pd_index)):
        for p in (path, jls):
            gc.collect()
            tracemalloc.start()
            start = time.perf_counter()
            fn(p)
            elapsed = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            kind = "native " if p == path else "JPEG-LS"
            print(f"  {label:44} {kind} peak {peak / 2**20:8.2f} MiB  {elapsed * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer frames (a smoke run)")
    parser.add_argument("--large-frames", type=int, default=400, help="frames of the memory test file")
    parser.add_argument("--only", help="run only the cases whose label contains this text (no memory test)")
    parser.add_argument("--threads-only", action="store_true", help="only the threads vs one thread table")
    args = parser.parse_args()
    import imagecodecs
    import pydicom

    print(f"dicomkit {dicomkit.__version__}, pydicom {pydicom.__version__}, numpy {np.__version__}, "
          f"imagecodecs {imagecodecs.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores; "
          f"median of {args.rounds} rounds")
    if not args.threads_only:
        speed(args.rounds, args.quick, args.only)
    threads(args.rounds, args.quick, args.only)
    if not args.only and not args.threads_only:
        memory(80 if args.quick else args.large_frames)


if __name__ == "__main__":
    main()
