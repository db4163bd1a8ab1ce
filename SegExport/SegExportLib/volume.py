"""Label volumes as numpy arrays with their grid, and reading them from NRRD without SimpleITK.

The writers take a SimpleITK image (as pydicom-seg's do) or a :class:`LabelVolume`:
the same voxels and geometry held by numpy alone. Importing SimpleITK costs a
command-line export about 0.13 s, as much as encoding a hundred segments, so the
core imports it only when it is given a SimpleITK image or must resample.
:func:`read_nrrd` reads the NRRD files Slicer, ITK and most tools write (raw or gzip,
attached data, 3D scalar, LPS or RAS space) straight into a :class:`LabelVolume`;
for anything else it returns ``None`` and the caller reads the file with SimpleITK.

>>> volume = read_nrrd("labels.nrrd")                      # doctest: +SKIP
>>> volume.array.shape, volume.grid.spacing                # doctest: +SKIP
((400, 512, 512), array([0.8, 0.8, 1.5]))
"""

from __future__ import annotations

import math
import os
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SegmentationImageError
from .geometry import Grid

if TYPE_CHECKING:
    import SimpleITK as sitk


@dataclass(frozen=True)
class LabelVolume:
    """Voxels ``array[k, j, i]`` (slices, rows, columns, as SimpleITK's GetArrayFromImage orders them) on ``grid``."""

    array: np.ndarray
    grid: Grid

    def __post_init__(self) -> None:
        if self.array.ndim != 3 or tuple(self.array.shape[::-1]) != tuple(self.grid.size):
            raise SegmentationImageError(
                f"a LabelVolume needs a 3D array of shape {tuple(self.grid.size)[::-1]} (k, j, i) for its grid; "
                f"got {self.array.shape}"
            )

    def to_sitk(self) -> sitk.Image:
        """The same voxels and geometry as a SimpleITK image (a copy)."""
        import SimpleITK as sitk

        return self.grid.apply_to(sitk.GetImageFromArray(self.array))


def is_sitk_image(value: object) -> bool:
    """True for a SimpleITK image, without importing SimpleITK."""
    kind = type(value)
    return kind.__name__ == "Image" and kind.__module__.startswith("SimpleITK")


def is_single_volume(value: object) -> bool:
    """True for one image (SimpleITK or :class:`LabelVolume`), as opposed to a list or mapping of them."""
    return isinstance(value, LabelVolume) or is_sitk_image(value)


def array_of(image: Any) -> np.ndarray:
    """The (k, j, i) voxel array of a :class:`LabelVolume` or of a SimpleITK image (a view, not a copy, which
    keeps the image alive)."""
    if isinstance(image, LabelVolume):
        return image.array
    return np.asarray(_ImageMemory(image))


class _ImageMemory:
    """A SimpleITK image's voxels as an array interface that keeps the image alive.

    ``sitk.GetArrayViewFromImage`` does not: its view reads freed memory once the image is gone, and the
    writers read the labelmap again when they write the frames, possibly after the caller dropped the image.
    """

    def __init__(self, image: sitk.Image) -> None:
        import SimpleITK as sitk

        self.image = image
        self.__array_interface__ = sitk.GetArrayViewFromImage(image).__array_interface__


def read_image(path: str | os.PathLike[str]) -> LabelVolume | sitk.Image:
    """An image file as a :class:`LabelVolume` when :func:`read_nrrd` can read it, else as SimpleITK reads it
    (raising SimpleITK's RuntimeError when it cannot)."""
    volume = read_nrrd(path) if os.fspath(path).lower().endswith(".nrrd") else None
    if volume is not None:
        return volume
    import SimpleITK as sitk

    return sitk.ReadImage(os.fspath(path))


def grid_of(image: Any) -> Grid:
    """The grid of a :class:`LabelVolume` or of a 3D SimpleITK image."""
    return image.grid if isinstance(image, LabelVolume) else Grid.from_image(image)


NRRD_TYPES = {
    **dict.fromkeys(("signed char", "int8", "int8_t"), "i1"),
    **dict.fromkeys(("uchar", "unsigned char", "uint8", "uint8_t"), "u1"),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t"), "i2"),
    **dict.fromkeys(("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), "u2"),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t"), "i4"),
    **dict.fromkeys(("uint", "unsigned int", "uint32", "uint32_t"), "u4"),
    **dict.fromkeys(
        ("longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t"),
        "i8",
    ),
    **dict.fromkeys(("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"), "u8"),
    "float": "f4",
    "double": "f8",
}
"""NRRD type names (lower case) -> numpy type codes (without byte order)."""
# LPS is what ITK uses; RAS vectors become LPS by negating their first two components.
_SPACES = {"left-posterior-superior": (1.0, 1.0, 1.0), "right-anterior-superior": (-1.0, -1.0, 1.0)}
_VECTOR = re.compile(r"\(([^()]*)\)")
_MAX_HEADER_BYTES = 1 << 16


def read_nrrd(path: str | os.PathLike[str]) -> LabelVolume | None:
    """Read a 3D scalar NRRD file with attached raw or gzip data; ``None`` for any other kind of NRRD (or a file
    that is not one), which SimpleITK should then read."""
    with open(path, "rb") as stream:
        head = stream.read(_MAX_HEADER_BYTES)
        if not head.startswith(b"NRRD000"):
            return None
        end = head.find(b"\n\n")
        if end < 0:
            return None
        fields = nrrd_header_fields(head[:end].decode("latin-1").partition("\n")[2])
        layout = _layout(fields)
        if layout is None:
            return None
        dtype, shape, grid = layout
        count = math.prod(shape)
        stream.seek(end + 2)
        if fields["encoding"] == "raw":
            available = os.fstat(stream.fileno()).st_size - (end + 2)
            # Never allocate more than the file holds (a damaged size must not become a huge allocation).
            array = np.empty(min(count, max(available, 0) // dtype.itemsize), dtype=dtype)
            # One read straight into the array: np.fromfile copies through stdio buffers, 2 to 6 times slower.
            got = stream.readinto(memoryview(array).cast("B")) or 0
        else:
            # Never inflate more than the header declares: a small file must not become gigabytes in memory.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                data = inflater.decompress(stream.read(), count * dtype.itemsize)
            except zlib.error as exc:
                raise SegmentationImageError(f"{path}: its gzip-compressed voxel data are damaged ({exc})") from exc
            array = np.frombuffer(data, dtype=dtype, count=len(data) // dtype.itemsize)
            got = len(data)
    if got < count * dtype.itemsize:
        raise SegmentationImageError(
            f"{path} holds {got} bytes of voxel data, but its header ({' x '.join(map(str, shape[::-1]))} "
            f"{fields['type']}) needs {count * dtype.itemsize}: the file is truncated"
        )
    return LabelVolume(array.reshape(shape).astype(dtype.newbyteorder("="), copy=False), grid)


def nrrd_header_fields(text: str) -> dict[str, str]:
    """The fields of a NRRD header (the text after its NRRD000x line, up to the blank line): lower-case field
    name -> value. Comments and ``key:=value`` pairs (which hold e.g. Slicer's segment data) are left out."""
    fields = {}
    for line in text.splitlines():
        key, separator, value = line.partition(":")
        if separator and not line.startswith("#") and not value.startswith("="):
            fields[key.strip().lower()] = value.strip()
    return fields


def _layout(fields: dict[str, str]) -> tuple[np.dtype, tuple[int, int, int], Grid] | None:
    """(dtype, array shape (k, j, i), grid) of a header this reader handles, else ``None``."""
    scalar_type = NRRD_TYPES.get(fields.get("type", "").lower())
    if (
        scalar_type is None
        or fields.get("dimension") != "3"
        or fields.get("encoding") not in ("raw", "gzip", "gz")
        or "data file" in fields
        or "datafile" in fields
        or "byte skip" in fields
        or "line skip" in fields
        or fields.get("space", "").lower() not in _SPACES
    ):
        return None
    endian = "<" if fields.get("endian", "little").lower() == "little" else ">"
    dtype = np.dtype(endian + scalar_type)
    try:
        size = tuple(int(v) for v in fields["sizes"].split())
        vectors = [[float(v) for v in match.split(",")] for match in _VECTOR.findall(fields["space directions"])]
        origin = [float(v) for v in _VECTOR.findall(fields.get("space origin", "(0,0,0)"))[0].split(",")]
    except (KeyError, ValueError, IndexError):
        return None
    if len(size) != 3 or min(size) < 1 or len(vectors) != 3 or any(len(v) != 3 for v in vectors) or len(origin) != 3:
        return None
    flip = np.array(_SPACES[fields["space"].lower()])
    axes = np.array(vectors, dtype=float) * flip  # one row per i, j, k axis
    spacing = np.linalg.norm(axes, axis=1)
    if not np.all(np.isfinite(axes)) or np.any(spacing <= 0):
        return None
    grid = Grid(
        size=(size[0], size[1], size[2]),
        spacing=spacing,
        origin=np.array(origin, dtype=float) * flip,
        direction=(axes / spacing[:, None]).T,
    )
    return dtype, (size[2], size[1], size[0]), grid
