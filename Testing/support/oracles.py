"""Independent checks of the SEGs we write: dciodvfy, dcmqi's reader and highdicom.

None of these share code with SegExportLib: dicom3tools and dcmqi are C++
programs, highdicom runs in a separate process (possibly another interpreter,
given by ``SEGEXPORT_ORACLE_PYTHON``, since it needs pydicom 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HIGHDICOM_SCRIPT = Path(__file__).with_name("highdicom_oracle.py")


@dataclass
class ValidatorResult:
    """What a validator said: its ``Error`` and ``Warning`` lines and the whole output."""

    errors: list[str]
    warnings: list[str]
    output: str


def _validator(command: Sequence[str]) -> ValidatorResult:
    # dicom3tools write everything to stderr and misbehave with a terminal on stdin.
    result = subprocess.run(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    lines = result.stdout.splitlines()
    return ValidatorResult(
        [line for line in lines if line.startswith("Error")],
        [line for line in lines if line.startswith("Warning")],
        result.stdout,
    )


def run_dciodvfy(path: str | os.PathLike[str]) -> ValidatorResult:
    """dciodvfy's verdict on one file."""
    return _validator(["dciodvfy", os.fspath(path)])


def run_dcentvfy(seg: str | os.PathLike[str], sources: Sequence[str | os.PathLike[str]]) -> ValidatorResult:
    """dcentvfy's verdict on a SEG and its source instances (patient/study/series consistency)."""
    return _validator(["dcentvfy", os.fspath(seg), *(os.fspath(s) for s in sources)])


def dcmqi_bin_dir() -> Path | None:
    """Folder of dcmqi's segimage2itkimage: SEGEXPORT_DCMQI_BIN_DIR, PATH, or beside this interpreter."""
    candidates = [os.environ.get("SEGEXPORT_DCMQI_BIN_DIR"), str(Path(sys.executable).parent)]
    found = shutil.which("segimage2itkimage")
    if found:
        candidates.insert(1, str(Path(found).parent))
    for folder in candidates:
        if folder and (Path(folder) / "segimage2itkimage").exists():
            return Path(folder)
    return None


def dcmqi_decode(seg_path: str | os.PathLike[str], workdir: str | os.PathLike[str]) -> dict[int, sitk.Image]:
    """Decode a SEG with dcmqi's segimage2itkimage (what Slicer uses): segment number -> binary image.

    dcmqi writes one image per segment (``1.nrrd``, ``2.nrrd``, ... in SegmentSequence order) whose
    voxel value is the segment number, on the extent of the SEG's frames, plus ``meta.json``.
    """
    folder = dcmqi_bin_dir()
    if folder is None:
        raise RuntimeError("dcmqi is not installed")
    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)  # dcmqi fails silently when the folder is missing
    result = subprocess.run(
        [
            str(folder / "segimage2itkimage"),
            "--inputDICOM",
            os.fspath(seg_path),
            "--outputDirectory",
            str(out),
            "--outputType",
            "nrrd",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    meta_path = out / "meta.json"
    if result.returncode != 0 or not meta_path.exists():
        raise AssertionError(f"segimage2itkimage failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    attributes = json.loads(meta_path.read_text())["segmentAttributes"]
    decoded = {}
    for index, entries in enumerate(attributes, start=1):
        image = sitk.ReadImage(str(out / f"{index}.nrrd"))
        for entry in entries:
            number = int(entry["labelID"])
            decoded[number] = sitk.Cast(sitk.BinaryThreshold(image, number, number, 1, 0), sitk.sitkUInt8)
    return decoded


def oracle_python() -> str | None:
    """An interpreter that imports highdicom: SEGEXPORT_ORACLE_PYTHON, else this one if it can."""
    configured = os.environ.get("SEGEXPORT_ORACLE_PYTHON")
    if configured:
        return configured if Path(configured).exists() else None
    try:
        import highdicom  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def highdicom_decode(
    seg_path: str | os.PathLike[str],
    source_paths: Sequence[str | os.PathLike[str]],
) -> dict[int, dict[str, np.ndarray]]:
    """Decode a SEG with highdicom, frames mapped to source instances by highdicom itself.

    Returns segment number -> {source SOPInstanceUID: 2D mask (float fractions for FRACTIONAL)}, only for the
    source instances the SEG refers to.
    """
    python = oracle_python()
    if python is None:
        raise RuntimeError("no interpreter with highdicom")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "decoded.npz"
        result = subprocess.run(
            [python, str(HIGHDICOM_SCRIPT), os.fspath(seg_path), str(out), *(os.fspath(p) for p in source_paths)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"highdicom could not decode {seg_path}:\n{result.stderr[-3000:]}")
        decoded: dict[int, dict[str, np.ndarray]] = {}
        with np.load(out) as archive:
            for key in archive.files:
                number, uid = key.split("|", 1)
                decoded.setdefault(int(number), {})[uid] = archive[key]
    return decoded


def expected_masks_by_instance(
    label_image: sitk.Image, datasets: Sequence[object], label_to_segment: dict[int, int]
) -> dict[int, dict[str, np.ndarray]]:
    """For each source instance, the labelmap slice at its position, split into per-segment masks."""
    labels = sitk.GetArrayViewFromImage(label_image)
    direction = np.array(label_image.GetDirection()).reshape(3, 3)
    origin, spacing = np.array(label_image.GetOrigin()), np.array(label_image.GetSpacing())
    normal = direction[:, 2]
    offsets = [(origin + k * spacing[2] * normal) @ normal for k in range(labels.shape[0])]
    expected: dict[int, dict[str, np.ndarray]] = {number: {} for number in label_to_segment.values()}
    for dataset in datasets:
        position = np.array([float(v) for v in dataset.ImagePositionPatient])  # type: ignore[attr-defined]
        k = int(np.argmin([abs(position @ normal - o) for o in offsets]))
        for label, number in label_to_segment.items():
            mask = labels[k] == label
            if mask.any():
                expected[number][str(dataset.SOPInstanceUID)] = mask  # type: ignore[attr-defined]
    return expected


def assert_masks_equal(expected: dict[int, dict[str, np.ndarray]], actual: dict[int, dict[str, np.ndarray]]) -> None:
    """Compare per-segment, per-instance masks; an instance missing on one side must be empty on the other."""
    assert sorted(expected) == sorted(actual), f"segments differ: expected {sorted(expected)}, got {sorted(actual)}"
    for number in expected:
        for uid in set(expected[number]) | set(actual[number]):
            want = expected[number].get(uid)
            got = actual[number].get(uid)
            shape = (want if want is not None else got).shape  # type: ignore[union-attr]
            want = np.zeros(shape, bool) if want is None else want.astype(bool)
            got = np.zeros(shape, bool) if got is None else got.astype(bool)
            differing = int(np.count_nonzero(want != got))
            assert differing == 0, f"segment {number}, instance {uid}: {differing} pixels differ"


def resample_to(image: sitk.Image, reference: sitk.Image) -> np.ndarray:
    """``image`` on ``reference``'s grid (nearest neighbour, 0 outside) as a (z, y, x) array."""
    return sitk.GetArrayFromImage(sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0))


def masks_by_instance_from_volume(image: sitk.Image, datasets: Sequence[object]) -> dict[str, np.ndarray]:
    """Sample a decoded volume at each source instance's pixels: {SOPInstanceUID: 2D array}.

    Works on any decoder's output grid (cropped, on the frames' extent, any direction): the instance's
    first pixel is located in the volume by its physical position, which must fall on a voxel centre.
    Instances outside the volume give all-zero arrays.
    """
    volume = sitk.GetArrayViewFromImage(image)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    masks = {}
    for dataset in datasets:
        rows, columns = int(dataset.Rows), int(dataset.Columns)  # type: ignore[attr-defined]
        iop = np.array([float(v) for v in dataset.ImageOrientationPatient])  # type: ignore[attr-defined]
        assert np.allclose(direction[:, 0], iop[:3], atol=1e-4) and np.allclose(direction[:, 1], iop[3:], atol=1e-4), (
            "decoded volume is not aligned with the source image rows and columns"
        )
        position = [float(v) for v in dataset.ImagePositionPatient]  # type: ignore[attr-defined]
        index = np.array(image.TransformPhysicalPointToContinuousIndex(position))
        rounded = np.rint(index)
        assert np.all(np.abs(index - rounded) < 0.05), f"instance position falls between voxels: index {index}"
        i0, j0, k = (int(v) for v in rounded)
        mask = np.zeros((rows, columns), dtype=volume.dtype)
        if 0 <= k < volume.shape[0]:
            ys, xs = (
                slice(max(j0, 0), min(j0 + rows, volume.shape[1])),
                slice(max(i0, 0), min(i0 + columns, volume.shape[2])),
            )
            if ys.start < ys.stop and xs.start < xs.stop:
                mask[ys.start - j0 : ys.stop - j0, xs.start - i0 : xs.stop - i0] = volume[k, ys, xs]
        masks[str(dataset.SOPInstanceUID)] = mask  # type: ignore[attr-defined]
    return masks


def run_dciodvfy_any(path: str | os.PathLike[str], workdir: str | os.PathLike[str]) -> ValidatorResult:
    """dciodvfy on any transfer syntax: the Debian build cannot read Deflated files, so those are first
    re-encoded as Explicit VR Little Endian with dcmtk's ``dcmconv +te`` (the content is unchanged)."""
    import pydicom

    syntax = pydicom.dcmread(os.fspath(path), stop_before_pixels=True).file_meta.TransferSyntaxUID
    if syntax != pydicom.uid.DeflatedExplicitVRLittleEndian:
        return run_dciodvfy(path)
    plain = Path(workdir) / (Path(path).stem + "-explicit.dcm")
    subprocess.run(["dcmconv", "+te", os.fspath(path), str(plain)], check=True, stdin=subprocess.DEVNULL)
    return run_dciodvfy(plain)


def ohif_reader() -> tuple[Path, Path] | None:
    """(ohif_read.js, node_modules holding dcmjs) when OHIF's loader can be run here, else None."""
    script = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "ohif_read.js"
    modules = os.environ.get("SEGEXPORT_OHIF_NODE_PATH")
    if not script.exists() or not modules or not (Path(modules) / "dcmjs").is_dir() or not shutil.which("node"):
        return None
    return script, Path(modules)


def ohif_decode(seg_path: str | os.PathLike[str], source_folder: str | os.PathLike[str]) -> dict:
    """What OHIF's SEG loader (dcmjs Cornerstone adapter) makes of a SEG: voxel counts per segment, or an error."""
    found = ohif_reader()
    if found is None:
        raise RuntimeError("OHIF's loader is not available")
    script, modules = found
    result = subprocess.run(
        ["node", str(script), os.fspath(seg_path), os.fspath(source_folder)],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"ohif_read.js failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)
