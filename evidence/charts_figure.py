"""docs/img/charts.png: the four test charts (``cfasim generate --source chart:NAME``, top, the
stored target, 144 x 144 shown at 2x) and a 72 x 72 crop of their noise-free Nona mosaic (false
colour, white-balanced, shown at 4x: the 3 x 3 same-colour blocks are visible), each from a
one-sample store; the crop is framed in the chart.

Run from the repository root: ``python evidence/charts_figure.py [OUT.png]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cfasim.data.reader import open_dataset
from cfasim.eval.crops import false_color_mosaic
from cfasim.source.charts import CHARTS
from cfasim.testing.fixtures import build_store

PATCH, ZOOM, CROP = 144, 2, 72
CROPS = {"colorchecker": (24, 0), "zoneplate": (36, 72), "slanted-edge": (36, 36),
         "siemens-star": (36, 72)}  # fmt: skip
"""Top-left corner (y, x) of each chart's mosaic crop (multiples of the Nona period, 6)."""


def panels(root: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(chart name, target, false-colour mosaic) of a one-sample Nona store of every chart."""
    out = []
    for name in CHARTS:
        config = dict(pattern="nona", patch=PATCH, count=1, splits=(1, 0, 0), noise="none")
        store = build_store(root / f"{name}.zarr", source=f"chart:{name}", seed=1, **config)
        ds = open_dataset(store)
        item, params = ds["train"][0], ds["train"].params(0)
        mosaic = false_color_mosaic(np.asarray(item["raw"]), ds.pattern, float(item["black_level"]),
                                    float(item["white_level"]), params.channel_gains)  # fmt: skip
        y, x = CROPS[name]
        out.append((name, np.asarray(item["target"]) / 255.0, mosaic[y : y + CROP, x : x + CROP]))
    return out


def main(path: str = "docs/img/charts.png") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = panels(Path(tmp))
    side, label, dpi = PATCH * ZOOM, 22, 100
    width, height = len(rows) * (side + 8), 2 * (side + label + 8)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    for c, (name, target, mosaic) in enumerate(rows):
        shown = ((target, name, ZOOM), (mosaic, f"{name} on Nona (RAW crop)", side // CROP))
        for r, (img, what, zoom) in enumerate(shown):
            x0 = c * (side + 8) + 4
            y0 = r * (side + label + 8) + label + 4
            ax = fig.add_axes((x0 / width, 1 - (y0 + side) / height, side / width, side / height))
            ax.imshow(np.repeat(np.repeat(img, zoom, 0), zoom, 1), interpolation="nearest")
            ax.set_axis_off()
            if r == 0:
                y, x = (ZOOM * v for v in CROPS[name])
                ax.add_patch(Rectangle((x - 0.5, y - 0.5), ZOOM * CROP, ZOOM * CROP, fill=False,
                                       edgecolor="red", linewidth=1))  # fmt: skip
            fig.text((x0 + side / 2) / width, 1 - (y0 - 3) / height, what, ha="center",
                     va="bottom", fontsize=9)  # fmt: skip
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png", metadata={"Software": None})


if __name__ == "__main__":
    main(*sys.argv[1:])
