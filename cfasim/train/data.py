"""PyTorch data loading for cfasim datasets (docs/dataset-format.md).

- :class:`CFADataset`: map-style dataset over one split of a store; lazy, picklable, with random
  crops and dihedral augmentation that keep the CFA phase of the dataset's pattern;
- :class:`ShardAwareSampler`: batch sampler that reads whole shards together and splits batches
  across DDP ranks;
- :func:`make_loader`, :func:`set_epoch`, :func:`worker_init_fn`: DataLoader plumbing.

Crops and phase
---------------
A crop of side ``n`` (a multiple of the period) starts at ``(y0, x0)``. Without augmentation the
offsets are multiples of the period, so the crop has the pattern's phase. A flip or rotation
changes which colour sits at the crop origin; it is undone by starting the crop at an offset that
is *not* a multiple of the period: for each of the 8 dihedral transforms and each residue
``(ry, rx)`` of ``(y0 mod py, x0 mod px)`` we check once (at construction, on the colour map)
whether ``transform(crop at (ry, rx))`` equals the colour map at ``(0, 0)``; a transform is used
only if some residue works and fits the image. This is the "crop a window one period larger,
transform it, take the sub-window at the precomputed offset" construction, with the offset
expressed in source coordinates: only the crop is read, and a crop as large as the image still
gets the transforms that need no shift. Examples: Bayer RGGB: transposition needs no shift, a
horizontal flip a shift of one column, a 180° rotation one row and one column; Quad, Nona and QxQ
(any phase): all 8 transforms work with shifts; ``RG/BW``: the 4 flips work, the 4 transposing
transforms do not; ``RGB/GBR/BRG`` (colour ``(x + y) mod 3``): only the identity and the
transposition. Augmentation draws a usable transform uniformly, then one of its residues, then
the crop origin uniformly among those with that residue.
"""

from __future__ import annotations

import itertools
import math
import os
import random
from typing import NamedTuple

import numpy as np
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler

from cfasim.cfa import CFAPattern
from cfasim.errors import DatasetError
from cfasim.isp.render import TASKS, balanced_linear
from cfasim.store.status import open_store


class Dihedral(NamedTuple):
    """A transform of the square: transpose first, then flip rows, then flip columns."""

    name: str
    transpose: bool
    flip_y: bool
    flip_x: bool

    def apply(self, a: np.ndarray) -> np.ndarray:
        """Transform an array whose first two axes are (y, x) (a view, not contiguous)."""
        if self.transpose:
            a = a.swapaxes(0, 1)
        if self.flip_y:
            a = a[::-1]
        if self.flip_x:
            a = a[:, ::-1]
        return a


DIHEDRAL = (
    Dihedral("identity", False, False, False),
    Dihedral("flip_x", False, False, True),  # horizontal flip (mirror left-right)
    Dihedral("flip_y", False, True, False),  # vertical flip
    Dihedral("rot180", False, True, True),
    Dihedral("transpose", True, False, False),
    Dihedral("rot90", True, True, False),  # counter-clockwise, np.rot90(a, 1)
    Dihedral("rot270", True, False, True),  # clockwise, np.rot90(a, -1)
    Dihedral("transverse", True, True, True),  # anti-transposition
)
"""The 8 symmetries of the square."""


def phase_preserving_transforms(
    pattern: CFAPattern, height: int, width: int | None = None
) -> dict[str, list[tuple[int, int]]]:
    """Dihedral transforms that keep the CFA phase of a ``height`` x ``width`` crop.

    Parameters
    ----------
    pattern
        The CFA pattern.
    height, width
        Crop size, multiples of the period (``width`` defaults to ``height``). Transposing
        transforms are only considered for square crops.

    Returns
    -------
    dict
        Transform name -> crop-origin residues ``(ry, rx)`` (``0 <= ry < py``, ``0 <= rx < px``)
        such that the transformed crop taken at any origin ``(y0, x0)`` with
        ``(y0 % py, x0 % px) == (ry, rx)`` has the colour map ``pattern.color_index`` (the same
        phase as the untransformed crop at a multiple of the period). Transforms with no such
        residue are left out; the identity always has ``(0, 0)``.
    """
    width = height if width is None else width
    pattern.check_shape(height, width)
    py, px = pattern.period
    # The answer depends only on the crop size modulo the period (both are multiples), so test
    # on one lcm-sized square (for transposes) or one period (for flips).
    size = math.lcm(py, px)
    ref = pattern.color_index(size, size)
    cmap = pattern.color_index(size + py, size + px)
    out = {}
    for t in DIHEDRAL:
        if t.transpose and height != width:
            continue
        residues = [
            (ry, rx)
            for ry in range(py)
            for rx in range(px)
            if np.array_equal(t.apply(cmap[ry : ry + size, rx : rx + size]), ref)
        ]
        if residues:
            out[t.name] = residues
    return out


class CFADataset(Dataset):
    """One split of a cfasim store as a map-style dataset.

    Parameters
    ----------
    path
        Store path or URL, opened by :func:`cfasim.store.status.open_store`.
    split
        ``"train"``, ``"val"`` or ``"test"``.
    crop
        Side of random square crops, a multiple of the period; ``None`` for whole samples.
    augment
        Random flips / 90° rotations that keep the CFA phase (see module docstring).
    with_clean
        Also return the clean linear camera RGB (the store must have been built with ``--clean``).
    seed
        Seed of the crop/augmentation generator, drawn per item from ``(seed, epoch, index)``.
    task
        ``"srgb"``: the target is the stored sRGB image; ``"linear"``: the white-balanced
        linear camera RGB of the stored noise-free ``clean`` signal
        (:func:`cfasim.isp.render.balanced_linear` with the sample's stored gains; needs
        ``--clean`` and scale 1).
    storage_options
        Passed to :func:`~cfasim.store.status.open_store` for remote stores (fsspec).
    crops_per_sample
        ``k``: items ``j`` and ``j + count``, ... ``j + (k-1) count`` are ``k`` independent
        random crops of sample ``j`` (``len`` is ``k * count``). :class:`ShardAwareSampler`
        puts them in the same batch and :meth:`__getitems__` decodes the sample once for them,
        so a batch costs ``1 / k`` of the decoding (1, the default: every crop its own sample).

    Items are dicts: ``raw`` (h, w) uint16 RAW codes, ``target`` (3, s*h, s*w) float32 sRGB in
    [0, 1], ``clean`` (3, h, w) float32 (with ``with_clean``), ``wb`` (3,) the channel gains
    times the digital gain and ``noise`` (2,) the shot and read coefficients (NaN where not
    stored: captured pairs), and ``index`` (int, the sample's). ``s`` is the
    split's ``scale`` attribute (default 1). Normalising the RAW codes is the job of
    :class:`cfasim.train.cfa_adapter.CFAAdapter` (``black``, ``white`` here).

    The zarr group is opened on the first ``__getitem__`` of each process (DataLoader workers
    open their own); ``__init__`` only reads metadata, and the object pickles without any open
    array. The epoch set by :meth:`set_epoch` lives in shared memory, so it also reaches
    persistent DataLoader workers (set it before iterating).

    Raises
    ------
    cfasim.errors.DatasetError (a ValueError)
        Those of :func:`~cfasim.store.status.open_store` (not a cfasim store, an unknown
        format version, a build that is not complete), a missing split or array, or a crop
        that does not fit.
    """

    def __init__(
        self,
        path,
        split: str = "train",
        crop: int | None = None,
        augment: bool = False,
        with_clean: bool = False,
        seed: int = 0,
        storage_options: dict | None = None,
        task: str = "srgb",
        crops_per_sample: int = 1,
    ):
        if task not in TASKS:
            raise DatasetError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        self.task = task
        self.path = os.fspath(path)
        self.split = split
        self.crop = None if crop is None else int(crop)
        self.augment = bool(augment)
        self.with_clean = bool(with_clean)
        self.seed = int(seed)
        self.crops_per_sample = int(crops_per_sample)
        if self.crops_per_sample < 1:
            raise DatasetError(f"crops_per_sample must be >= 1, got {crops_per_sample}")
        self.storage_options = storage_options
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._handles = None  # (pid, raw, target, clean) opened lazily per process

        root, attrs = open_store(self.path, storage_options)  # complete, known format
        self.pattern = CFAPattern.from_dict(attrs["pattern"])
        self.raw_format = dict(attrs["raw_format"])
        self.black = int(self.raw_format["black"])
        self.white = int(self.raw_format["white"])
        self._read_split(self._split_group(root))

    # -- metadata -------------------------------------------------------------------------------

    def _split_group(self, root: zarr.Group) -> zarr.Group:
        """The group of this dataset's split; DatasetError naming the splits there are."""
        if self.split not in root or not isinstance(root[self.split], zarr.Group):
            have = sorted(k for k, v in root.groups())
            raise DatasetError(
                f"{self.path} has no split {self.split!r} (splits: {', '.join(have) or 'none'})"
            )
        return root[self.split]

    def _read_split(self, group: zarr.Group) -> None:
        """Sizes, scale and shard size of the split; its arrays checked; the crop choices."""
        self.scale = int(group.attrs.get("scale", 1))
        count = int(group.attrs.get("count", 0))
        names = set(group.array_keys())  # has_clean: the split stores clean RGB
        if count == 0 and "raw" not in names:  # an empty split has a group but no arrays
            self.count, self.height, self.width, self.shard_size = 0, 0, 0, 1
            self.has_clean = False
            self._gains = np.zeros((0, 3))
            self._noise = np.zeros((0, 2))
            self._choices: list[tuple[Dihedral, list[tuple[int, int]]]] = []
            return
        need = ["raw", "target"] + (["clean"] if self.with_clean or self.task == "linear" else [])
        missing = [n for n in need if n not in names]
        if missing:
            hint = " (generate with --clean)" if "clean" in missing else ""
            hint += (
                "; the linear task's target is the clean signal" if self.task == "linear" else ""
            )
            raise DatasetError(
                f"{self.path} split {self.split!r} has no array "
                f"{', '.join(map(repr, missing))}{hint}"
            )
        raw = group["raw"]
        self.count, self.height, self.width = (int(v) for v in raw.shape)
        self.shard_size = int((raw.shards or raw.chunks)[0])
        self.has_clean = "clean" in names
        tshape = tuple(group["target"].shape)
        if tshape != (self.count, self.height * self.scale, self.width * self.scale, 3):
            raise DatasetError(
                f"{self.path} split {self.split!r}: target shape {tshape} does not match raw "
                f"{tuple(raw.shape)} at scale {self.scale}"
            )
        self._gains = _stored_gains(group, self.count)
        self._noise = _stored_noise(group, self.count)
        if self.task == "linear":
            self._check_linear()
        self._choices = self._crop_choices()

    def stores(self, what: str) -> bool:
        """Whether every sample stores ``"white balance"`` (gains times digital gain) or
        ``"noise levels"`` (shot and read coefficients): what conditioning needs."""
        values = {"white balance": self._gains, "noise levels": self._noise}[what]
        return bool(np.all(np.isfinite(values)))

    def _check_linear(self) -> None:
        """The linear task needs scale 1 and stored gains."""
        if self.scale != 1:
            raise DatasetError(
                f"{self.path}: the linear task's target is the clean signal at RAW resolution; "
                f"split {self.split!r} has scale {self.scale}"
            )
        if not np.all(np.isfinite(self._gains)):
            raise DatasetError(f"{self.path}: no white balance stored (captured pairs?)")

    def _crop_choices(self) -> list[tuple[Dihedral, list[tuple[int, int]]]]:
        """Usable (transform, origin residues) pairs for this crop size and image size."""
        py, px = self.pattern.period
        if self.crop is None:
            ch, cw = self.height, self.width
        else:
            ch = cw = self.crop
            if self.crop <= 0 or self.crop % py or self.crop % px:
                lcm = math.lcm(py, px)
                near = max(lcm, self.crop // lcm * lcm)
                raise DatasetError(
                    f"crop {self.crop} is not a multiple of the {self.pattern.name} period "
                    f"{py}x{px}; try {near}"
                )
            if self.crop > min(self.height, self.width):
                raise DatasetError(
                    f"crop {self.crop} is larger than the {self.height}x{self.width} samples "
                    f"of {self.path} split {self.split!r}"
                )
        if not self.augment:
            return [(DIHEDRAL[0], [(0, 0)])]
        valid = phase_preserving_transforms(self.pattern, ch, cw)
        choices = []
        for t in DIHEDRAL:
            fits = [
                (ry, rx)
                for ry, rx in valid.get(t.name, [])
                if ry <= self.height - ch and rx <= self.width - cw
            ]
            if fits:
                choices.append((t, fits))
        return choices

    @property
    def black_level(self) -> int:
        """Black level of the RAW codes (DN), ``raw_format["black"]``."""
        return self.black

    @property
    def white_level(self) -> int:
        """White level of the RAW codes (DN), ``raw_format["white"]``."""
        return self.white

    @property
    def transforms(self) -> list[str]:
        """Names of the dihedral transforms augmentation draws from (uniformly)."""
        return [t.name for t, _ in self._choices]

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch mixed into the crop/augmentation seed (shared with worker processes)."""
        self._epoch.fill_(int(epoch))

    def shard_of(self, index: int) -> int:
        """Shard (along ``sample``) holding item ``index`` (sample ``index % count``)."""
        return index % max(self.count, 1) // self.shard_size

    def __len__(self) -> int:
        return self.count * self.crops_per_sample

    # -- items ----------------------------------------------------------------------------------

    def crop_params(self, index: int, epoch: int | None = None) -> tuple[int, int, str]:
        """``(y0, x0, transform name)`` of item ``index`` (deterministic in seed, epoch, index;
        a crop of sample ``index % count``).

        The item is ``transform(sample[y0:y0+n, x0:x0+n])`` (target: s times the coordinates).
        """
        index = self._check_index(index)
        epoch = self.epoch if epoch is None else int(epoch)
        ch, cw = (self.height, self.width) if self.crop is None else (self.crop, self.crop)
        if self.crop is None and not self.augment:
            return 0, 0, DIHEDRAL[0].name
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, index]))
        t, residues = self._choices[int(rng.integers(len(self._choices)))]
        ry, rx = residues[int(rng.integers(len(residues)))]
        py, px = self.pattern.period
        y0 = ry + py * int(rng.integers((self.height - ch - ry) // py + 1))
        x0 = rx + px * int(rng.integers((self.width - cw - rx) // px + 1))
        return y0, x0, t.name

    def _check_index(self, index) -> int:
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return i

    def _arrays(self):
        """(raw, target, clean) zarr arrays, opened once per process."""
        pid = os.getpid()
        if self._handles is None or self._handles[0] != pid:
            from cfasim.data.reader import CheckedArray
            from cfasim.store.fs import StoreFS

            g = open_store(self.path, self.storage_options)[0][self.split]
            fs = StoreFS(self.path) if self.storage_options is None else None

            def checked(name):  # damaged, truncated or missing shards fail loudly, named
                return CheckedArray(g[name], self.path, f"{self.split}/{name}", fs)

            clean = checked("clean") if self.with_clean or self.task == "linear" else None
            self._handles = (pid, checked("raw"), checked("target"), clean)
        return self._handles[1:]

    def __getitem__(self, index) -> dict:
        return self._item(self._check_index(index), None)

    def __getitems__(self, indices) -> list[dict]:
        """Items of a batch (what a DataLoader worker asks for): each sample is decoded once
        for all its crops in the batch (see ``crops_per_sample``)."""
        indices = [self._check_index(i) for i in indices]
        repeated = len({i % self.count for i in indices}) < len(indices)
        decoded = {} if repeated else None
        return [self._item(i, decoded) for i in indices]

    def _item(self, index: int, decoded: dict | None) -> dict:
        """Item ``index``; with ``decoded`` (a dict), whole samples are decoded once into it
        and cropped from there."""
        sample = index % self.count
        y0, x0, name = self.crop_params(index)
        t = _BY_NAME[name]
        ch, cw = (self.height, self.width) if self.crop is None else (self.crop, self.crop)
        s = self.scale
        raw, target, clean = self._read(sample, decoded)
        raw = raw[y0 : y0 + ch, x0 : x0 + cw]
        item = {"raw": torch.from_numpy(np.ascontiguousarray(t.apply(raw)))}
        clean = None if clean is None else clean[y0 : y0 + ch, x0 : x0 + cw]
        if self.task == "linear":
            item["target"] = _chw(t.apply(balanced_linear(clean, self._gains[sample])), 1.0)
        else:
            target = target[s * y0 : s * (y0 + ch), s * x0 : s * (x0 + cw)]
            item["target"] = _chw(t.apply(target), 1 / 255)
        if self.with_clean:
            item["clean"] = _chw(t.apply(clean), 1.0)
        item["wb"] = torch.from_numpy(self._gains[sample].astype(np.float32))
        item["noise"] = torch.from_numpy(self._noise[sample].astype(np.float32))
        item["index"] = sample
        return item

    def _read(self, sample: int, decoded: dict | None):
        """(raw, target, clean or None) of a whole sample, from ``decoded`` when there."""
        if decoded is not None and sample in decoded:
            return decoded[sample]
        raw, target, clean = self._arrays()
        read = (
            raw[sample],
            None if self.task == "linear" else target[sample],  # linear: the target is clean's
            None if clean is None else clean[sample],
        )
        if decoded is not None:
            decoded[sample] = read
        return read

    # -- pickling -------------------------------------------------------------------------------

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handles"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"CFADataset({self.path!r}, split={self.split!r}, {self.count} samples "
            f"{self.height}x{self.width} {self.pattern.name}, crop={self.crop}, "
            f"augment={self.augment}, with_clean={self.with_clean})"
        )


_BY_NAME = {t.name: t for t in DIHEDRAL}


def _stored_gains(group: zarr.Group, count: int) -> np.ndarray:
    """(count, 3) white-balance gains times the digital gain of a split (NaN: not stored, as
    for captured pairs): the linear task's balance and the ``wb`` conditioning."""
    if count == 0 or "wb_gains" not in group or "digital_gain" not in group:
        return np.full((count, 3), np.nan)
    gains = np.asarray(group["wb_gains"][:], dtype=np.float64)
    return gains * np.asarray(group["digital_gain"][:], dtype=np.float64)[:, None]


def _stored_noise(group: zarr.Group, count: int) -> np.ndarray:
    """(count, 2) shot and read variance coefficients of a split (NaN: not stored, as for
    captured pairs): the ``noise`` conditioning."""
    if count == 0 or "shot_noise" not in group or "read_noise" not in group:
        return np.full((count, 2), np.nan)
    return np.stack(
        [np.asarray(group[k][:], dtype=np.float64) for k in ("shot_noise", "read_noise")], axis=1
    )


def _chw(a: np.ndarray, factor: float) -> torch.Tensor:
    """(h, w, 3) array -> contiguous (3, h, w) float32 tensor times ``factor``."""
    out = np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)
    if factor != 1.0:
        out *= np.float32(factor)
    return torch.from_numpy(out)


class ShardAwareSampler(Sampler[list[int]]):
    """Batch sampler that keeps each batch within few shards and splits batches across ranks.

    Every epoch the shards (runs of ``dataset.shard_size`` samples along ``sample``) are put in a
    random order and the samples of each shard are shuffled; the concatenated order is cut into
    consecutive batches, so a batch spans at most two shards (one when ``batch_size`` divides the
    shard size). The ``k`` crops of a sample of a dataset with ``crops_per_sample = k`` are
    consecutive, so they share a batch when ``k`` divides ``batch_size``, and ``n`` counts
    items (crops). Batches are dealt round-robin to the ranks (batch ``j`` goes to rank
    ``j % world_size``), so ranks get disjoint samples. Use as
    ``DataLoader(dataset, batch_sampler=sampler)`` and call :meth:`set_epoch` (or
    :func:`set_epoch`) before each epoch.

    Every rank gets the same number of batches (DDP needs equal step counts):

    - ``drop_last=True``: ``n // (batch_size * world_size)`` full batches per rank; the last
      ``n mod (batch_size * world_size)`` samples of the epoch's order are dropped (different
      ones every epoch when shuffling). Recommended for training.
    - ``drop_last=False``: ``ceil(n / (batch_size * world_size))`` batches per rank and every
      sample exactly once per epoch: all batches are full except the last round (one batch per
      rank), which shares the remaining samples as evenly as possible (sizes differ by at most
      one). Only if that round has fewer samples than ranks is it padded with the first samples
      of the epoch's order, as ``DistributedSampler`` does, so those appear twice.

    Parameters
    ----------
    dataset
        A :class:`CFADataset` or any sized dataset (``shard_size`` attribute, else 1).
    batch_size
        Samples per batch (per rank).
    shuffle
        Shuffle shards and samples within shards; ``False`` gives the natural order.
    seed
        Seed of the shuffle, combined with the epoch; the same on every rank.
    rank, world_size
        This process's rank and the number of ranks (DDP).
    drop_last
        See above.
    shard_size
        Override the dataset's shard size.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        shard_size: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank {rank}, world {world_size}")
        self.n = len(dataset)  # items: samples times the dataset's crops_per_sample
        self.crops_per_sample = int(getattr(dataset, "crops_per_sample", 1) or 1)
        self.samples = self.n // self.crops_per_sample
        self.shard_size = int(shard_size or getattr(dataset, "shard_size", 1) or 1)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        per_round = self.batch_size * self.world_size
        if self.drop_last:
            return self.n // per_round
        return -(-self.n // per_round)

    def order(self) -> np.ndarray:
        """This epoch's item order over all ranks (shard order, then samples within shards;
        the ``k`` crops of a sample, items ``i, i + samples, ...``, next to each other)."""
        n = self.samples
        if not self.shuffle:
            order = np.arange(n)
        else:
            starts = np.arange(0, n, self.shard_size)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, 0x5A4D]))
            parts = [
                s + rng.permutation(min(self.shard_size, n - s)) for s in rng.permutation(starts)
            ]
            order = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        k = self.crops_per_sample
        return (order[:, None] + n * np.arange(k)).ravel() if k > 1 else order

    def batches(self) -> list[list[int]]:
        """All batches of this epoch over all ranks; batch ``j`` goes to rank ``j % world``."""
        order = self.order()
        bs, w = self.batch_size, self.world_size
        rounds = len(self)
        if rounds == 0:
            return []
        full = (rounds - 1) * w if not self.drop_last else rounds * w
        sizes = [bs] * full
        if not self.drop_last:
            rest = self.n - full * bs  # 1 .. bs * w samples for the last round
            if rest < w:  # pad so that every rank gets a non-empty batch
                order = np.concatenate([order, order[: w - rest]])
                rest = w
            sizes += [rest // w + (1 if j < rest % w else 0) for j in range(w)]
        bounds = np.cumsum([0, *sizes])
        return [order[a:b].tolist() for a, b in itertools.pairwise(bounds)]

    def __iter__(self):
        yield from self.batches()[self.rank :: self.world_size]


def worker_init_fn(worker_id: int) -> None:
    """DataLoader worker set-up: seed ``random`` and NumPy's global generator per worker (for
    user transforms; :class:`CFADataset` does not use them) and drop any inherited zarr handles
    so the worker opens the store itself."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global generator, for third-party code
    info = torch.utils.data.get_worker_info()
    if info is not None and hasattr(info.dataset, "_handles"):
        info.dataset._handles = None


def make_loader(
    dataset,
    batch_size: int,
    num_workers: int = 0,
    shuffle: bool = True,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    **loader_kwargs,
) -> DataLoader:
    """DataLoader over ``dataset`` with a :class:`ShardAwareSampler` as batch sampler.

    Parameters
    ----------
    dataset
        Usually a :class:`CFADataset`.
    batch_size, shuffle, seed, rank, world_size, drop_last
        Passed to :class:`ShardAwareSampler` (per-rank batch size).
    num_workers
        Worker processes (each opens the store itself).
    **loader_kwargs
        More ``DataLoader`` arguments (``pin_memory``, ``persistent_workers``,
        ``prefetch_factor``, ``multiprocessing_context``, ...).

    Returns
    -------
    torch.utils.data.DataLoader
        Call :func:`set_epoch` ``(loader, epoch)`` before each epoch.
    """
    sampler = ShardAwareSampler(
        dataset,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        drop_last=drop_last,
    )
    if num_workers == 0:
        loader_kwargs.pop("persistent_workers", None)
        loader_kwargs.pop("prefetch_factor", None)
    loader_kwargs.setdefault("worker_init_fn", worker_init_fn)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, **loader_kwargs)


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Set the epoch of a loader's batch sampler and dataset (call before iterating)."""
    for obj in (loader.batch_sampler, loader.sampler, loader.dataset):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)
