"""Display colours: sRGB (0-255) to and from DICOM's scaled CIELab.

DICOM stores a segment's recommended display colour as CIELab scaled to
unsigned 16-bit integers (PS3.3 C.10.7.1.1): L* 0..100 and a*, b* -128..127
mapped onto 0..65535. The conversion uses the sRGB primaries and the D65 white
point, as dcmqi and 3D Slicer do, so Slicer shows the colour the user picked.

>>> rgb_to_cielab((255, 255, 255))
(65535, 32897, 32893)
>>> cielab_to_rgb(rgb_to_cielab((128, 174, 128)))
(128, 174, 128)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_D65_WHITE = np.array([95.047, 100.0, 108.883])
# The sRGB primaries to four decimals, as dcmqi (and so Slicer) use them: the same colour
# then gives the same integers here and there.
_SRGB_TO_XYZ = np.array(
    [
        [0.4124, 0.3576, 0.1805],
        [0.2126, 0.7152, 0.0722],
        [0.0193, 0.1192, 0.9505],
    ]
)
_XYZ_TO_SRGB = np.linalg.inv(_SRGB_TO_XYZ)
# The classic CIE constants (0.008856 and 7.787, i.e. kappa / 116) rather than the exact ratios, likewise.
_EPSILON = 0.008856
_SLOPE = 7.787


def _to_linear(channel: np.ndarray) -> np.ndarray:
    return np.where(channel > 0.04045, ((channel + 0.055) / 1.055) ** 2.4, channel / 12.92)


def _to_gamma(channel: np.ndarray) -> np.ndarray:
    return np.where(channel > 0.0031308, 1.055 * np.power(np.maximum(channel, 0), 1 / 2.4) - 0.055, 12.92 * channel)


def rgb_to_cielab(rgb: Sequence[float]) -> tuple[int, int, int]:
    """Convert an sRGB colour (three numbers 0..255) to DICOM scaled CIELab (three ints 0..65535)."""
    linear = _to_linear(np.asarray(rgb, dtype=float) / 255.0)
    xyz = _SRGB_TO_XYZ @ linear * 100 / _D65_WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), _SLOPE * xyz + 16 / 116)
    lightness, a, b = 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])
    scaled = (lightness * 65535 / 100, (a + 128) * 65535 / 255, (b + 128) * 65535 / 255)
    return tuple(int(np.clip(round(float(v)), 0, 65535)) for v in scaled)  # type: ignore[return-value]


def cielab_to_rgb(lab: Sequence[float]) -> tuple[int, int, int]:
    """Convert DICOM scaled CIELab (three numbers 0..65535) to an sRGB colour (three ints 0..255)."""
    lightness = float(lab[0]) * 100 / 65535
    a = float(lab[1]) * 255 / 65535 - 128
    b = float(lab[2]) * 255 / 65535 - 128
    fy = (lightness + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    xyz = np.where(f**3 > _EPSILON, f**3, (f - 16 / 116) / _SLOPE)
    linear = _XYZ_TO_SRGB @ (xyz * _D65_WHITE / 100)
    rgb = _to_gamma(np.clip(linear, 0, 1)) * 255
    return tuple(int(np.clip(round(float(v)), 0, 255)) for v in rgb)  # type: ignore[return-value]
