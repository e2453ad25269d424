"""``cfasim view``: the preview grid (:mod:`cfasim.viz.preview`) of samples of a complete
dataset, read through :func:`cfasim.open_dataset`, written to a local PNG file."""

from __future__ import annotations

import os
from pathlib import Path

from cfasim.data.reader import open_dataset
from cfasim.errors import ConfigError
from cfasim.viz.preview import preview_png


def write_view(
    dataset_path,
    out,
    split: str = "test",
    indices: list[int] | None = None,
    random: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write the preview grid of samples of one split of a dataset to a PNG file.

    Parameters
    ----------
    dataset_path : str or os.PathLike
        A complete cfasim store (local path or fsspec URL).
    out : str or os.PathLike
        The PNG file to write (its folder is created).
    split : str
        Split name.
    indices, random, seed
        Which samples (:func:`cfasim.viz.preview.choose_indices`; default 3 evenly spaced).
    overwrite : bool
        Replace ``out`` if it exists (otherwise it is refused, untouched).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    cfasim.errors.DatasetError
        Not a complete cfasim store; :class:`~cfasim.errors.UnknownSplitError` for a split it
        does not have.
    cfasim.errors.ConfigError
        Bad or out-of-range sample choices; ``out`` exists (without ``overwrite``) or is a
        folder.
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out} is a folder; give the PNG file to write, e.g. {out}/view.png")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists; pass --overwrite to replace it")
    dataset = open_dataset(dataset_path)  # refuses foreign, unfinished and newer stores
    sp = dataset[split]
    attrs = dataset.attrs
    png = preview_png(sp, attrs, name=str(dataset_path), split_name=split, indices=indices,
                      random=random, seed=seed)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(png)
    os.replace(tmp, out)
    return out
