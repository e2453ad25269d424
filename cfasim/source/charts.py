"""Test charts drawn as display sRGB images: ColorChecker, zone plate, slanted edge, Siemens star.

Every chart is a pure function of its size (and its few design parameters): an
``(height, width, 3)`` float64 image of encoded sRGB values in [0, 1], neutral (R = G = B) but for
the ColorChecker. Pixel ``(y, x)`` is the unit square centred on the point ``(x, y)``; the image
centre is ``((width - 1) / 2, (height - 1) / 2)``. Shapes are antialiased in linear light (a
chart is a printed reflectance), then sRGB-encoded (IEC 61966-2-1, :func:`cfasim.isp.color.
srgb_encode`). ``cfasim generate --source chart:NAME`` makes every sample of a dataset the chart
``NAME`` (:data:`CHARTS`) at the target size; its analysis is :mod:`cfasim.eval.charts`.
Method and formulas: docs/charts.md.
"""

from __future__ import annotations

import math

import numpy as np

from cfasim.errors import ConfigError
from cfasim.isp.color import srgb_encode

CHART_PREFIX = "chart:"
"""``--source`` prefix that selects a chart (``chart:colorchecker``)."""
COLORCHECKER = "ColorChecker24 - After November 2014"
"""The colour-science reference (X-Rite's values from November 2014, xyY under D50)."""
COLORCHECKER_ROWS, COLORCHECKER_COLS = 4, 6
FRAME_LINEAR = 0.01
"""Linear reflectance of the ColorChecker's dark frame (below the black patch's 0.031)."""
PATCH_FILL = 0.8
"""Patch side over patch pitch: the rest is the dark frame between patches."""
FRAME_PITCHES = 0.4
"""Frame around the grid, in patch pitches (half on each side)."""
INNER_FRACTION = 0.5
"""Side of a patch's measured centre box over the patch side (:func:`colorchecker_centres`)."""
MIN_PATCH_SIDE = 8
"""Smallest ColorChecker patch side in pixels."""
EDGE_ANGLE_DEG = 5.0
"""Tilt of the slanted edge from the vertical (ISO 12233 uses about 5 degrees)."""
EDGE_DARK, EDGE_LIGHT = 0.18, 0.72
"""Linear reflectances of the slanted edge's sides: 4:1 contrast, as the ISO 12233:2017 e-SFR
chart."""
STAR_CYCLES = 72
"""Dark spokes of the Siemens star (72 dark + 72 light sectors: 144 sign changes a turn)."""
MEAN_LINEAR = 0.18
"""Linear mean grey of the zone plate and the star (and their surround)."""
CONTRAST = 0.8
"""Modulation of the zone plate and the star around :data:`MEAN_LINEAR` (0.036 .. 0.324)."""
SUPERSAMPLE = 8
"""Sub-samples per pixel side for the area antialiasing of the edge and the star."""


def colorchecker_reference() -> tuple[tuple[str, ...], np.ndarray]:
    """Names and display sRGB of the 24 ColorChecker patches, row by row.

    colour-science's xyY (``colour.CCS_COLOURCHECKERS[COLORCHECKER]``, under the chart's D50
    illuminant) -> XYZ -> linear sRGB with Bradford adaptation to D65 (``colour.XYZ_to_RGB``),
    clipped to [0, 1] (only cyan is outside the sRGB gamut: linear red -0.044), then
    sRGB-encoded.

    Returns
    -------
    names : tuple of 24 str
    srgb : (24, 3) float64 encoded sRGB in [0, 1]
    """
    import colour

    checker = colour.CCS_COLOURCHECKERS[COLORCHECKER]
    xyy = np.array(list(checker.data.values()), dtype=np.float64)
    linear = colour.XYZ_to_RGB(
        colour.xyY_to_XYZ(xyy),
        "sRGB",
        illuminant=checker.illuminant,
        chromatic_adaptation_transform="Bradford",
        apply_cctf_encoding=False,
    )
    return tuple(checker.data), srgb_encode(np.clip(linear, 0.0, 1.0))


def colorchecker_boxes(height: int, width: int) -> np.ndarray:
    """The 24 patches of a ColorChecker of ``height`` x ``width``, row by row.

    The patch pitch is ``p = floor(min(width / (6 + 0.4), height / (4 + 0.4)))`` pixels, the
    patch side ``round(0.8 p)``; the 6 x 4 grid is centred, the frame filling the rest.

    Returns
    -------
    (24, 4) int array of ``(y0, x0, h, w)`` boxes

    Raises
    ------
    cfasim.errors.ConfigError
        If the patches would be smaller than :data:`MIN_PATCH_SIDE` pixels.
    """
    cols, rows = COLORCHECKER_COLS + FRAME_PITCHES, COLORCHECKER_ROWS + FRAME_PITCHES
    pitch = math.floor(min(width / cols, height / rows))
    side = round(PATCH_FILL * pitch)
    if side < MIN_PATCH_SIDE:
        need = math.ceil((COLORCHECKER_COLS + FRAME_PITCHES) * MIN_PATCH_SIDE / PATCH_FILL)
        raise ConfigError(
            f"a ColorChecker of {height}x{width} pixels has patches of {side} pixels; it needs "
            f"at least {need} pixels a side (patches of {MIN_PATCH_SIDE})"
        )
    gap = pitch - side
    top = (height - COLORCHECKER_ROWS * pitch + gap) // 2
    left = (width - COLORCHECKER_COLS * pitch + gap) // 2
    return np.array(
        [
            (top + r * pitch, left + c * pitch, side, side)
            for r in range(COLORCHECKER_ROWS)
            for c in range(COLORCHECKER_COLS)
        ]
    )


def colorchecker_centres(height: int, width: int, fraction: float = INNER_FRACTION) -> np.ndarray:
    """The measured centre box of every patch: the central ``fraction`` of its side (at least
    one pixel), away from the patch edges that demosaicing blurs.

    Returns
    -------
    (24, 4) int array of ``(y0, x0, h, w)`` boxes, row by row
    """
    boxes = colorchecker_boxes(height, width)
    side = boxes[0, 2]
    inner = max(1, round(fraction * side))
    off = (side - inner) // 2
    return np.array([(y + off, x + off, inner, inner) for y, x, _, _ in boxes])


def colorchecker(height: int, width: int) -> np.ndarray:
    """The 24-patch ColorChecker (:func:`colorchecker_reference`) on a dark frame.

    Patches are pixel-aligned (:func:`colorchecker_boxes`), so every patch pixel has exactly
    the reference value; the frame is linear :data:`FRAME_LINEAR`.

    Returns
    -------
    (height, width, 3) float64 encoded sRGB in [0, 1]
    """
    _, srgb = colorchecker_reference()
    image = np.full((height, width, 3), float(srgb_encode(FRAME_LINEAR)))
    for (y, x, h, w), value in zip(colorchecker_boxes(height, width), srgb, strict=True):
        image[y : y + h, x : x + w] = value
    return image


def _centred_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y, x) relative to the image centre, as (H, 1) and (1, W)."""
    y = np.arange(height, dtype=np.float64)[:, None] - (height - 1) / 2.0
    x = np.arange(width, dtype=np.float64)[None, :] - (width - 1) / 2.0
    return y, x


def _grey(linear: np.ndarray) -> np.ndarray:
    """A neutral (H, W, 3) display image of the linear reflectances ``linear`` (H, W)."""
    return np.repeat(srgb_encode(np.clip(linear, 0.0, 1.0))[..., None], 3, axis=2)


def zone_plate_rate(height: int, width: int) -> float:
    """The chirp rate ``k`` of :func:`zone_plate`: local frequency ``k r`` cycles per pixel at
    radius ``r``, Nyquist (0.5) at the middle of the nearer image edge."""
    return 0.5 / (min(height, width) / 2.0)


def zone_plate(height: int, width: int) -> np.ndarray:
    """Circular zone plate: linear ``m (1 + c cos(pi k r^2))`` around the centre.

    The phase ``pi k r^2`` has local frequency ``d/dr (k r^2 / 2) = k r`` cycles per pixel,
    ``k`` from :func:`zone_plate_rate` (Nyquist at radius ``R = min(height, width) / 2``). The
    modulation fades to the mean grey between 0.95 R and R (raised cosine), so nothing above
    Nyquist is drawn (the corners are flat). ``m`` = :data:`MEAN_LINEAR`, ``c`` =
    :data:`CONTRAST`; point-sampled at pixel centres.

    Returns
    -------
    (height, width, 3) float64 encoded sRGB in [0, 1]
    """
    y, x = _centred_grid(height, width)
    r2 = x * x + y * y
    big_r = min(height, width) / 2.0
    t = np.clip((np.sqrt(r2) - 0.95 * big_r) / (0.05 * big_r), 0.0, 1.0)
    fade = 0.5 * (1.0 + np.cos(np.pi * t))
    k = zone_plate_rate(height, width)
    return _grey(MEAN_LINEAR * (1.0 + CONTRAST * fade * np.cos(np.pi * k * r2)))


def edge_coverage(height: int, width: int, angle_deg: float = EDGE_ANGLE_DEG) -> np.ndarray:
    """Fraction of each pixel's area right of a line through the image centre, tilted
    ``angle_deg`` clockwise from the vertical: ``x > y tan(angle)`` in centred coordinates.

    Exact across each pixel row's width (a pixel row at height y is covered over
    ``clip(x + 0.5 - y tan(angle), 0, 1)``), averaged over :data:`SUPERSAMPLE` sub-rows.

    Returns
    -------
    (height, width) float64 in [0, 1]
    """
    y, x = _centred_grid(height, width)
    slope = math.tan(math.radians(angle_deg))
    cover = np.zeros((height, width))
    for j in range(SUPERSAMPLE):
        yj = y + (j + 0.5) / SUPERSAMPLE - 0.5
        cover += np.clip(x + 0.5 - yj * slope, 0.0, 1.0)
    return cover / SUPERSAMPLE


def slanted_edge(height: int, width: int, angle_deg: float = EDGE_ANGLE_DEG) -> np.ndarray:
    """ISO 12233-style slanted edge: dark left (linear :data:`EDGE_DARK`), light right
    (:data:`EDGE_LIGHT`, 4:1), the edge through the centre tilted ``angle_deg`` from the
    vertical, area-antialiased in linear light (:func:`edge_coverage`): the image is the edge
    seen through the pixel aperture (MTF ``|sinc f|``, 0.60 at f = 0.5 ... MTF50 0.60 cy/px).

    Returns
    -------
    (height, width, 3) float64 encoded sRGB in [0, 1]
    """
    cover = edge_coverage(height, width, angle_deg)
    return _grey(EDGE_DARK + (EDGE_LIGHT - EDGE_DARK) * cover)


def star_coverage(height: int, width: int, cycles: int = STAR_CYCLES) -> np.ndarray:
    """Fraction of each pixel covered by the light sectors of a Siemens star of ``cycles``
    periods a turn: angle ``theta`` (from +x, counter-clockwise in image rows upwards) is light
    where ``cos(cycles theta) > 0``; :data:`SUPERSAMPLE` x :data:`SUPERSAMPLE` sub-samples."""
    y, x = _centred_grid(height, width)
    cover = np.zeros((height, width))
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    for dy in offsets:
        for dx in offsets:
            theta = np.arctan2(-(y + dy), x + dx)
            cover += np.cos(cycles * theta) > 0.0
    return cover / SUPERSAMPLE**2


def star_radii(height: int, width: int, cycles: int = STAR_CYCLES) -> tuple[float, float]:
    """(inner, outer) radius of :func:`siemens_star`: inside ``cycles / pi`` the period
    ``2 pi r / cycles`` is below 2 pixels (above Nyquist), so that disk is flat grey; the star
    ends at 0.45 of the smaller side."""
    return cycles / math.pi, 0.45 * min(height, width)


def siemens_star(height: int, width: int, cycles: int = STAR_CYCLES) -> np.ndarray:
    """Binary Siemens star of ``cycles`` dark and ``cycles`` light sectors, area-antialiased
    (:func:`star_coverage`), linear ``m (1 + c (2 coverage - 1))`` between the radii of
    :func:`star_radii`, the mean grey ``m`` inside and outside.

    Returns
    -------
    (height, width, 3) float64 encoded sRGB in [0, 1]
    """
    if isinstance(cycles, bool) or int(cycles) != cycles or cycles < 2:
        raise ConfigError(f"a Siemens star needs an integer number of cycles >= 2, got {cycles}")
    y, x = _centred_grid(height, width)
    r = np.sqrt(x * x + y * y)
    inner, outer = star_radii(height, width, int(cycles))
    modulation = 2.0 * star_coverage(height, width, int(cycles)) - 1.0
    modulation[(r < inner) | (r > outer)] = 0.0
    return _grey(MEAN_LINEAR * (1.0 + CONTRAST * modulation))


CHARTS = {
    "colorchecker": colorchecker,
    "zoneplate": zone_plate,
    "slanted-edge": slanted_edge,
    "siemens-star": siemens_star,
}
"""Chart name (``--source chart:NAME``) -> drawing function ``f(height, width)``."""


def chart_name(source: str | None) -> str | None:
    """The chart of a ``--source`` value (``"chart:NAME"`` -> ``NAME``), None for other
    sources.

    Raises
    ------
    cfasim.errors.ConfigError
        If ``source`` starts with ``chart:`` but names no chart of :data:`CHARTS`.
    """
    if not isinstance(source, str) or not source.startswith(CHART_PREFIX):
        return None
    name = source[len(CHART_PREFIX) :]
    if name not in CHARTS:
        raise ConfigError(
            f"unknown chart {name!r} in --source {source}; choose one of "
            + ", ".join(CHART_PREFIX + n for n in CHARTS)
        )
    return name


def render_chart(name: str, height: int, width: int) -> np.ndarray:
    """Chart ``name`` (:data:`CHARTS`) as an (height, width, 3) float64 display sRGB image."""
    if name not in CHARTS:
        raise ConfigError(f"unknown chart {name!r}; choose one of {', '.join(CHARTS)}")
    for what, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ConfigError(f"chart {what} must be an integer >= 1, got {v!r}")
    return CHARTS[name](int(height), int(width))


def to_uint16(image: np.ndarray) -> np.ndarray:
    """Display values in [0, 1] as 16-bit codes, rounded to nearest (the 16-bit input of
    :func:`cfasim.sim.simulate.simulate_raw`)."""
    return np.round(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)
