"""Display colours: sRGB (0-255) to and from DICOM's scaled CIELab.

DICOM stores a segment's recommended display colour as CIELab scaled to unsigned
16-bit integers (PS3.3 C.10.7.1.1): L* 0..100 onto 0..65535, and a*, b* -128..127
via ``(v + 128) * 65535 / 255``. The conversion assumes sRGB primaries and the D65
reference white (X 95.047, Y 100, Z 108.883).

:func:`rgb_to_cielab` gives the integers dcmqi's ``itkimage2segimage`` writes for the
same colour (and so what Slicer's exporter writes), bit for bit: dcmqi keeps XYZ and
L*a*b* in single precision and scales in single precision, and a plain double-precision
formula differs from it by one unit for about 0.4 % of all colours. :func:`cielab_to_rgb`
is the exact inverse: ``cielab_to_rgb(rgb_to_cielab(c)) == c`` for all 16,777,216 colours.

>>> rgb_to_cielab((255, 255, 255))
(65535, 32896, 32896)
>>> rgb_to_cielab((128, 174, 128))
(43803, 26565, 37722)
>>> cielab_to_rgb((43803, 26565, 37722))
(128, 174, 128)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

__all__ = ["cielab_to_rgb", "rgb_to_cielab"]

D65_WHITE = (95.047, 100.0, 108.883)
"""The D65 reference white (2-degree observer) in XYZ, Y normalised to 100."""

# The sRGB primaries to four decimals, as dcmqi writes them.
_SRGB_TO_XYZ = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)
# The classic CIE constants (0.008856 and 7.787, i.e. about kappa / 116) rather than the exact ratios, likewise.
_EPSILON = 0.008856
_SLOPE = 7.787
_OFFSET = 16.0 / 116.0


def _inverse_3x3(matrix: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
    (a, b, c), (d, e, f), (g, h, i) = matrix
    cofactors = (
        (e * i - f * h, c * h - b * i, b * f - c * e),
        (f * g - d * i, a * i - c * g, c * d - a * f),
        (d * h - e * g, b * g - a * h, a * e - b * d),
    )
    determinant = a * cofactors[0][0] + b * cofactors[1][0] + c * cofactors[2][0]
    return tuple(tuple(value / determinant for value in row) for row in cofactors)


# The exact inverse of the rounded forward matrix (not the rounded published inverse): with it the
# round trip is exact for every colour.
_XYZ_TO_SRGB = _inverse_3x3(_SRGB_TO_XYZ)

_FLOAT32 = struct.Struct("<f")


def _single(value: float) -> float:
    """``value`` rounded to IEEE single precision (what a C ``float`` holds).

    Rounding a double-precision sum, product or quotient of two singles to single gives the correctly
    rounded single-precision result, so this also emulates C arithmetic on ``float`` operands.
    """
    return _FLOAT32.unpack(_FLOAT32.pack(value))[0]  # type: ignore[no-any-return]


def _round_half_away(value: float) -> int:
    """C's ``round``: halves go away from zero (Python's ``round`` goes to the even neighbour)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _check_triplet(values: Sequence[float], high: float, what: str) -> tuple[float, float, float]:
    try:
        first, second, third = (float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be 3 numbers from 0 to {high:g}, got {values!r}") from None
    if not all(0 <= v <= high for v in (first, second, third)):  # also refuses NaN
        raise ValueError(f"{what} must be 3 numbers from 0 to {high:g}, got {values!r}")
    return first, second, third


def _srgb_to_linear(channel: float) -> float:
    return ((channel + 0.055) / 1.055) ** 2.4 if channel > 0.04045 else channel / 12.92


def _linear_to_srgb(channel: float) -> float:
    return 1.055 * channel ** (1 / 2.4) - 0.055 if channel > 0.0031308 else 12.92 * channel


def _lab_f(ratio: float) -> float:
    return ratio ** (1.0 / 3) if ratio > _EPSILON else _SLOPE * ratio + _OFFSET


def _lab_f_inverse(value: float) -> float:
    cube = value**3
    return cube if cube > _EPSILON else (value - _OFFSET) / _SLOPE


def rgb_to_cielab(rgb: Sequence[float]) -> tuple[int, int, int]:
    """Convert an sRGB colour (three numbers 0..255) to DICOM scaled CIELab (three ints 0..65535).

    Non-integer channels (Slicer writes ``r * 255`` as a float) are first rounded to the nearest integer.
    Raises :class:`ValueError` for anything but 3 numbers within 0..255.

    >>> rgb_to_cielab((0, 0, 0))
    (0, 32896, 32896)
    """
    channels = [math.floor(v + 0.5) / 255.0 for v in _check_triplet(rgb, 255, "an sRGB colour")]
    linear = [_srgb_to_linear(c) * 100 for c in channels]
    # dcmqi sums in double precision, left to right, and stores X, Y, Z as single precision.
    x, y, z = (_single(row[0] * linear[0] + row[1] * linear[1] + row[2] * linear[2]) for row in _SRGB_TO_XYZ)
    fx, fy, fz = _lab_f(x / D65_WHITE[0]), _lab_f(y / D65_WHITE[1]), _lab_f(z / D65_WHITE[2])
    lightness, a, b = _single(116 * fy - 16), _single(500 * (fx - fy)), _single(200 * (fy - fz))
    scaled = (
        _single(_single(lightness * 65535) / 100),
        _single(_single(_single(a + 128) * 65535) / 255),
        _single(_single(_single(b + 128) * 65535) / 255),
    )
    first, second, third = (min(max(_round_half_away(v), 0), 65535) for v in scaled)
    return first, second, third


def cielab_to_rgb(lab: Sequence[float]) -> tuple[int, int, int]:
    """Convert DICOM scaled CIELab (three numbers 0..65535) to an sRGB colour (three ints 0..255).

    Colours outside the sRGB gamut (possible in SEGs from other tools) are clipped to it.
    Raises :class:`ValueError` for anything but 3 numbers within 0..65535.

    >>> cielab_to_rgb((65535, 32896, 32896))
    (255, 255, 255)
    """
    scaled_l, scaled_a, scaled_b = _check_triplet(lab, 65535, "a DICOM scaled CIELab colour")
    lightness = scaled_l * 100 / 65535
    a = scaled_a * 255 / 65535 - 128
    b = scaled_b * 255 / 65535 - 128
    fy = (lightness + 16) / 116
    xyz = [
        _lab_f_inverse(fy + a / 500) * D65_WHITE[0] / 100,
        _lab_f_inverse(fy) * D65_WHITE[1] / 100,
        _lab_f_inverse(fy - b / 200) * D65_WHITE[2] / 100,
    ]
    linear = (min(max(row[0] * xyz[0] + row[1] * xyz[1] + row[2] * xyz[2], 0.0), 1.0) for row in _XYZ_TO_SRGB)
    red, green, blue = (_round_half_away(_linear_to_srgb(c) * 255) for c in linear)
    return red, green, blue
