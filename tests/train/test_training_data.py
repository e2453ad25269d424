"""cfasim.train.data and cfasim.train.cfa_adapter: dataset, crops, phase-keeping augmentation,
DataLoader workers, and torch packings equal to the NumPy ones of cfasim.cfa."""

import math
import pickle
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
zarr = pytest.importorskip("zarr")

from cfasim.cfa import CFAPattern, get_pattern  # noqa: E402
from cfasim.errors import DatasetError  # noqa: E402
from cfasim.pipeline import GenerateConfig, build, plan  # noqa: E402
from cfasim.store import schema as cfads  # noqa: E402
from cfasim.store.status import consolidate, set_status  # noqa: E402
from cfasim.train.cfa_adapter import CFAAdapter, clean_to_s2d  # noqa: E402
from cfasim.train.data import (  # noqa: E402
    _BY_NAME,
    DIHEDRAL,
    CFADataset,
    ShardAwareSampler,
    make_loader,
    phase_preserving_transforms,
    set_epoch,
)

BLACK, WHITE = 64, 1023


def generate(path, **kw):
    cfg = dict(count=12, patch=48, clean=True, shard_samples=4, seed=3)
    cfg.update(kw)
    build(plan(GenerateConfig(**cfg)), path, workers=1, progress=False)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("training_data")
    return {
        # noise-free: raw is the quantised mosaic of clean, so colour sites can be checked exactly
        "nona": generate(root / "nona.zarr", pattern="nona", noise="none"),
        "bayer": generate(root / "bayer.zarr", pattern="bayer"),
    }


def coord_store(path, tile: str, scale: int = 2, count: int = 6, size: int = 48, clean=True):
    """Synthetic complete store whose pixels encode their own coordinates.

    raw[i, y, x] = i * 4096 + y * 64 + x; target[i, Y, X] = (Y // scale, X // scale, i);
    clean[i, y, x] = (y, x, i).
    """
    pattern = get_pattern(tile)
    attrs = {
        "format_version": cfads.FORMAT_VERSION,
        "status": "building",
        "pattern": pattern.to_dict(),
        "raw_format": {"bits": 16, "black": 0, "white": 65535},
    }
    root = zarr.open_group(str(path), mode="w", attributes={cfads.ATTRS_KEY: attrs})
    meta = {k: np.zeros((count, *tail), dt) for k, (tail, dt, _, _) in cfads.META_ARRAYS.items()}
    arrays = cfads.DataArrays(count, size, size, scale, shard_samples=4, clean=clean)
    g = cfads.create_split(root, "train", arrays, meta)
    empty = {k: v[:0] for k, v in meta.items()}
    cfads.create_split(root, "val", cfads.DataArrays(0, size, size, scale), empty)
    i, y, x = np.meshgrid(*(np.arange(n) for n in (count, size, size)), indexing="ij")
    g["raw"][...] = (i * 4096 + y * 64 + x).astype(np.uint16)
    i, y, x = np.meshgrid(
        *(np.arange(n) for n in (count, size * scale, size * scale)), indexing="ij"
    )
    g["target"][...] = np.stack([y // scale, x // scale, i], axis=-1).astype(np.uint8)
    if clean:
        i, y, x = np.meshgrid(*(np.arange(n) for n in (count, size, size)), indexing="ij")
        g["clean"][...] = np.stack([y, x, i], axis=-1).astype(np.float16)
    (path / "zarr.json").write_bytes(consolidate(path, ["train", "val"]))  # complete
    return path


def linear(raw):
    return (np.asarray(raw, dtype=np.float64) - BLACK) / (WHITE - BLACK)


# -- adapter --------------------------------------------------------------------------------------

PACKING_CASES = [
    ("bayer", "planes"),
    ("bayer", "s2d"),
    ("quad", "planes"),
    ("quad", "s2d"),
    ("nona", "planes"),
    ("nona", "s2d"),
    ("qxq", "planes"),
    ("qxq", "s2d"),
    ("qxq:grbg", "planes"),
    ("RGB/GBR/BRG", "s2d"),
    ("RG/BW", "s2d"),
]


@pytest.mark.parametrize(("spec", "packing"), PACKING_CASES)
def test_adapter_packing_equals_numpy(spec, packing):
    pattern = get_pattern(spec)
    side = math.lcm(*pattern.period, 2) * 3
    raw = np.random.default_rng(1).integers(0, WHITE + 1, (3, side, side), dtype=np.uint16)
    adapter = CFAAdapter(pattern, packing, with_mask=True, normalize=(BLACK, WHITE))
    numpy_pack = pattern.space_to_depth if packing == "s2d" else pattern.pack_planes
    channels = pattern.period[0] * pattern.period[1] if packing == "s2d" else 4
    assert adapter.packed_channels == channels and adapter.in_channels == 4 * channels

    # pure packing is exact (same values, same channel order), channels first
    packed = adapter.pack(torch.from_numpy(raw)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(packed, numpy_pack(raw))

    out = adapter(torch.from_numpy(raw))
    h, w = adapter.packed_size(side, side)
    assert out["packed"].shape == (3, adapter.in_channels, h, w)
    assert out["packed"].dtype == torch.float32 and out["mosaic"].shape == (3, 1, side, side)
    got = out["packed"][:, :channels].permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, numpy_pack(linear(raw)), rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["mosaic"][:, 0].numpy(), linear(raw), rtol=0, atol=1e-6)

    masks = pattern.masks(side, side).transpose(2, 0, 1).astype(np.float32)  # (3, H, W)
    np.testing.assert_array_equal(out["mask"].numpy(), np.broadcast_to(masks, (3, *masks.shape)))
    for c in range(3):
        packed_mask = out["packed"][0, channels * (c + 1) : channels * (c + 2)].permute(1, 2, 0)
        np.testing.assert_array_equal(packed_mask.numpy(), numpy_pack(masks[c]))
    # (N, 1, H, W) input and the PyNET plane order
    same = adapter(torch.from_numpy(raw)[:, None])["packed"]
    assert torch.equal(same, out["packed"])
    if packing == "planes":
        pynet = CFAAdapter(pattern, "planes", order="pynet").pack(torch.from_numpy(raw))
        np.testing.assert_array_equal(
            pynet.permute(0, 2, 3, 1).numpy(), pattern.pack_planes(raw, "pynet")
        )


def test_adapter_normalisation_is_not_clipped():
    adapter = CFAAdapter("bayer", "planes", normalize=(BLACK, WHITE))
    raw = torch.tensor([[[0, BLACK], [WHITE, 543]]], dtype=torch.uint16)
    m = adapter(raw)["mosaic"][0, 0]
    expected = torch.tensor([[-BLACK / 959, 0.0], [1.0, 479 / 959]])
    torch.testing.assert_close(m, expected, rtol=0, atol=1e-7)
    # float input gets the same formula; without normalize float passes through, ints refuse
    torch.testing.assert_close(adapter(raw.to(torch.float64))["mosaic"][0, 0], expected)
    plain = CFAAdapter("bayer", "s2d")
    assert torch.equal(plain(raw.float() / 7)["mosaic"], raw.float()[:, None] / 7)
    with pytest.raises(ValueError, match="need normalize"):
        plain(raw)
    assert adapter.normalize == (64.0, 1023.0)
    with pytest.raises(ValueError, match="white > black"):
        CFAAdapter("bayer", normalize=(10, 10))


def test_adapter_size_checks_and_errors():
    nona = CFAAdapter("nona", "planes")
    assert nona.check_size(96, 192, 16, "PyNET") == (48, 96)
    with pytest.raises(ValueError) as err:
        nona.check_size(100, 96, 16, "PyNET")
    assert (
        "nona:rggb mosaic 100x96: needs a multiple of 6 (period) and packed size divisible by 16"
        " for PyNET -> mosaic multiple of 96" in str(err.value)
    )
    assert "crop to 96x96" in str(err.value)
    with pytest.raises(ValueError, match=r"needs a multiple of 6 \(period\) -> mosaic multiple"):
        nona.check_size(50, 48)
    # s2d divides by the period: a packed multiple of 4 needs a mosaic multiple of 24
    s2d = CFAAdapter("nona", "s2d")
    assert s2d.required_multiple(4) == (24, 24) and s2d.check_size(48, 24, 4) == (8, 4)
    with pytest.raises(ValueError, match="multiple of 24"):
        s2d.check_size(36, 48, 4)
    with pytest.raises(ValueError, match=r"'planes' packing needs a block pattern.*packing='s2d'"):
        CFAAdapter("RGB/GBR/BRG", "planes")
    with pytest.raises(ValueError, match="unknown packing"):
        CFAAdapter("bayer", "pixel")
    with pytest.raises(ValueError, match="multiple of 6"):
        nona(torch.zeros(1, 50, 48))
    assert CFAAdapter("qxq", "s2d", with_mask=True).in_channels == 256
    assert CFAAdapter("RG/BW", "s2d").in_channels == 4


def test_clean_to_s2d_layouts():
    clean = torch.rand(2, 8, 6, 3)
    out = clean_to_s2d(clean)
    assert out.shape == (2, 12, 4, 3) and out.dtype == torch.float32
    assert torch.equal(out, clean_to_s2d(clean.permute(0, 3, 1, 2)))
    half = CFAAdapter.clean_to_s2d(clean.half())  # float16 stores -> float32
    assert half.dtype == torch.float32 and torch.equal(half, clean_to_s2d(clean.half().float()))
    for c in range(3):
        for dy in range(2):
            for dx in range(2):
                assert torch.equal(out[:, c * 4 + dy * 2 + dx], clean[:, dy::2, dx::2, c])
    with pytest.raises(ValueError, match="even height and width"):
        clean_to_s2d(torch.zeros(1, 3, 5, 4))


# -- dataset --------------------------------------------------------------------------------------


def test_dataset_reads_metadata_and_items(stores):
    ds = CFADataset(stores["nona"], with_clean=True)
    root = zarr.open_group(str(stores["nona"]), mode="r")
    g = root["train"]
    assert len(ds) == g["raw"].shape[0] == 10
    assert ds.pattern == get_pattern("nona") and (ds.black, ds.white) == (BLACK, WHITE)
    assert (ds.black_level, ds.white_level) == (BLACK, WHITE)
    assert ds.scale == 1 and ds.shard_size == 4 and ds.shard_of(9) == 2
    item = ds[7]
    assert item["index"] == 7
    assert item["raw"].dtype == torch.uint16 and item["raw"].shape == (48, 48)
    assert item["target"].dtype == torch.float32 and item["target"].shape == (3, 48, 48)
    assert item["clean"].dtype == torch.float32 and item["clean"].shape == (3, 48, 48)
    np.testing.assert_array_equal(item["raw"].numpy(), g["raw"][7])
    np.testing.assert_allclose(
        item["target"].numpy(), g["target"][7].transpose(2, 0, 1) / 255, rtol=1e-6
    )
    np.testing.assert_array_equal(item["clean"].numpy(), g["clean"][7].transpose(2, 0, 1))
    assert 0 <= item["target"].min() and item["target"].max() <= 1
    assert "clean" not in CFADataset(stores["nona"], "val")[0]
    assert len(CFADataset(stores["nona"], "test")) == 1
    assert torch.equal(ds[-1]["raw"], ds[9]["raw"])
    with pytest.raises(IndexError):
        ds[10]


def test_the_linear_task_targets_the_balanced_clean_signal(stores, tmp_path):
    """task="linear": the target is clean x white balance x digital gain, clipped, following
    the same crop and transform as the RAW; a store without clean is refused."""
    ds = CFADataset(stores["bayer"], crop=24, augment=True, seed=5, task="linear")
    g = zarr.open_group(str(stores["bayer"]), mode="r")["train"]
    for i in (0, 3, 9):
        item = ds[i]
        y0, x0, name = ds.crop_params(i)
        clean = g["clean"][i, y0 : y0 + 24, x0 : x0 + 24].astype(np.float64)
        gains = g["wb_gains"][i] * g["digital_gain"][i]
        want = _BY_NAME[name].apply(np.clip(clean * gains, 0, 1)).transpose(2, 0, 1)
        np.testing.assert_allclose(item["target"].numpy(), want, rtol=1e-6, atol=1e-7)
        assert "clean" not in item
    no_clean = generate(tmp_path / "plain.zarr", pattern="bayer", clean=False, count=4)
    with pytest.raises(DatasetError, match="the linear task's target is the clean signal"):
        CFADataset(no_clean, task="linear")
    with pytest.raises(DatasetError, match="unknown task"):
        CFADataset(stores["bayer"], task="xyz")


def test_dataset_refuses_bad_stores(stores, tmp_path):
    with pytest.raises(ValueError, match=r"no split 'dev'.*test, train, val"):
        CFADataset(stores["nona"], "dev")
    with pytest.raises(ValueError, match="not a Zarr group"):
        CFADataset(tmp_path / "nothing.zarr")
    with pytest.raises(ValueError, match=r"crop 50 is not a multiple .* 6x6; try 48"):
        CFADataset(stores["nona"], crop=50)
    with pytest.raises(ValueError, match="larger than the 48x48"):
        CFADataset(stores["nona"], crop=54)
    broken = tmp_path / "broken.zarr"
    shutil.copytree(stores["bayer"], broken)
    set_status(zarr.open_group(str(broken), mode="r+"), "building")
    with pytest.raises(ValueError, match=r"broken\.zarr is an unfinished build"):
        CFADataset(broken)
    no_clean = coord_store(tmp_path / "noclean.zarr", "bayer", scale=1, clean=False)
    with pytest.raises(ValueError, match=r"no array 'clean' \(generate with --clean\)"):
        CFADataset(no_clean, with_clean=True)
    assert len(CFADataset(no_clean)) == 6
    empty = CFADataset(no_clean, "val", crop=24, with_clean=True)  # a split with no samples
    assert len(empty) == 0 and list(ShardAwareSampler(empty, 4)) == []


def test_crops_are_period_aligned_and_deterministic(stores):
    ds = CFADataset(stores["nona"], crop=24, seed=5)
    g = zarr.open_group(str(stores["nona"]), mode="r")["train"]
    params = {}
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            y0, x0, name = ds.crop_params(i)
            assert name == "identity" and y0 % 6 == 0 and x0 % 6 == 0
            assert 0 <= y0 <= 24 and 0 <= x0 <= 24
            item = ds[i]
            np.testing.assert_array_equal(
                item["raw"].numpy(), g["raw"][i, y0 : y0 + 24, x0 : x0 + 24]
            )
            params[epoch, i] = (y0, x0)
    assert any(params[0, i] != params[1, i] for i in range(len(ds)))  # epochs differ
    again = CFADataset(stores["nona"], crop=24, seed=5)
    assert all(again.crop_params(i, epoch=1) == (*params[1, i], "identity") for i in range(10))
    other = CFADataset(stores["nona"], crop=24, seed=6)
    assert any(other.crop_params(i, 0)[:2] != params[0, i] for i in range(10))


def test_phase_preserving_transforms_table():
    bayer = phase_preserving_transforms(get_pattern("bayer"), 24)
    assert len(bayer) == 8
    assert bayer["transpose"] == [(0, 0)] and bayer["flip_x"] == [(0, 1)]
    assert bayer["flip_y"] == [(1, 0)] and bayer["rot180"] == [(1, 1)]
    for spec in ("quad", "nona", "qxq", "nona:grbg", "qxq:bggr"):
        assert len(phase_preserving_transforms(get_pattern(spec), 48)) == 8, spec
    assert phase_preserving_transforms(get_pattern("nona"), 48)["flip_x"] == [(0, 3)]
    # a Bayer-like tile with a W pixel: flips work, transposes swap B and G
    assert set(phase_preserving_transforms(get_pattern("RG/BW"), 8)) == {
        "identity",
        "flip_x",
        "flip_y",
        "rot180",
    }
    # c(y, x) = (x + y) mod 3: symmetric under transposition, and shifted copies of itself
    diag = phase_preserving_transforms(get_pattern("RGB/GBR/BRG"), 9)
    shifts = [(0, 0), (1, 2), (2, 1)]
    assert diag == {"identity": shifts, "transpose": shifts}
    assert list(phase_preserving_transforms(get_pattern("RGGB/GBRG/BRGR/GRBB"), 8)) == ["identity"]
    # non-square crops never transpose
    assert "transpose" not in phase_preserving_transforms(get_pattern("bayer"), 4, 8)


def test_whole_sample_augmentation_uses_only_unshifted_transforms(stores):
    ds = CFADataset(stores["bayer"], augment=True)
    assert ds.transforms == ["identity", "transpose"]
    assert CFADataset(stores["bayer"], crop=24, augment=True).transforms == [
        t.name for t in DIHEDRAL
    ]


def test_augmented_crops_keep_phase_and_alignment(stores):
    """Noise-free Nona store: raw equals the quantised mosaic of clean, so after augmentation
    the raw crop must still be pattern.mosaic(clean crop) with the dataset's own phase."""
    ds = CFADataset(stores["nona"], crop=24, augment=True, with_clean=True, seed=1)
    g = zarr.open_group(str(stores["nona"]), mode="r")["train"]
    pattern, used = ds.pattern, set()
    shifted = CFAPattern.from_tile(np.roll(pattern.tile, 3, axis=1))  # wrong phase: grbg
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            y0, x0, name = ds.crop_params(i)
            used.add(name)
            clean = item["clean"].numpy().transpose(1, 2, 0)
            lin = linear(item["raw"].numpy())
            assert np.abs(lin - pattern.mosaic(clean)).max() < 2e-3, (i, name)
            assert np.abs(lin - shifted.mosaic(clean)).max() > 0.05
            # target crop: the same region and transform as raw
            t = next(t for t in DIHEDRAL if t.name == name)
            expected = t.apply(g["target"][i, y0 : y0 + 24, x0 : x0 + 24]).transpose(2, 0, 1)
            np.testing.assert_allclose(item["target"].numpy(), expected / 255, rtol=1e-6)
    assert used == {t.name for t in DIHEDRAL}


def test_augmented_bayer_raw_follows_colours_and_target(stores):
    """Noisy Bayer store, augmented crops: the mean RAW value at the sites of each colour matches
    that colour of the clean image (not the others), and raw at R sites correlates with the
    aligned target's R channel far more than with a misaligned (rotated) target."""
    ds = CFADataset(stores["bayer"], crop=24, augment=True, with_clean=True, seed=2)
    sites = ds.pattern.masks(24, 24)
    gap, aligned, rotated = np.zeros((3, 3)), [], []
    for epoch in range(2):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            lin, clean = linear(item["raw"].numpy()), item["clean"].numpy()
            for c in range(3):
                s = sites[..., c]
                gap[c] += [abs(lin[s].mean() - clean[k][s].mean()) for k in range(3)]
            red, target = lin[sites[..., 0]], item["target"].numpy()[0]
            aligned.append(np.corrcoef(red, target[sites[..., 0]])[0, 1])
            rotated.append(np.corrcoef(red, target[::-1, ::-1][sites[..., 0]])[0, 1])
    for c in range(3):  # noise averages out at the right colour only
        assert gap[c, c] < 0.2 * min(gap[c, k] for k in range(3) if k != c), gap
    assert np.mean(aligned) > 0.8 and np.mean(aligned) > np.mean(rotated) + 0.5


@pytest.mark.parametrize("tile", ["RG/BW", "qxq:grbg", "RGB/GBR/BRG", "nona"])
def test_augmentation_any_tile_coordinates(tmp_path, tile):
    """Synthetic store whose pixels encode their source coordinates: every augmented crop has
    the pattern's colour at every pixel, and target (scale 2) and clean stay aligned with raw."""
    path = coord_store(tmp_path / "coords.zarr", tile, scale=2)
    ds = CFADataset(path, crop=24, augment=True, with_clean=True, seed=0)
    pattern = ds.pattern
    py, px = pattern.period
    assert ds.scale == 2 and set(ds.transforms) == set(phase_preserving_transforms(pattern, 24))
    used = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            used.add(ds.crop_params(i)[2])
            raw = item["raw"].numpy().astype(np.int64)
            assert (raw // 4096 == i).all()
            sy, sx = raw % 4096 // 64, raw % 64  # source coordinates of each pixel
            np.testing.assert_array_equal(
                pattern.tile[sy % py, sx % px], pattern.color_index(24, 24)
            )
            target = np.rint(item["target"].numpy() * 255).astype(np.int64)  # (3, 48, 48)
            assert item["target"].shape == (3, 48, 48)
            for a in range(2):
                for b in range(2):
                    np.testing.assert_array_equal(target[0, a::2, b::2], sy)
                    np.testing.assert_array_equal(target[1, a::2, b::2], sx)
            clean = item["clean"].numpy()
            np.testing.assert_array_equal(clean[0], sy)
            np.testing.assert_array_equal(clean[1], sx)
    assert used == set(ds.transforms)


# -- pickling and DataLoader workers -------------------------------------------------------------


def _collect(loader, epochs):
    out = {}
    for epoch in epochs:
        set_epoch(loader, epoch)
        for batch in loader:
            for j, idx in enumerate(batch["index"].tolist()):
                out[epoch, idx] = (batch["raw"][j].clone(), batch["target"][j].clone())
    return out


def test_pickle_and_loader_workers_match_single_process(stores):
    ds = CFADataset(stores["nona"], crop=24, augment=True, with_clean=True, seed=4)
    assert ds._handles is None  # nothing opened by __init__
    first = ds[3]
    assert ds._handles is not None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._handles is None
    assert all(torch.equal(first[k], clone[3][k]) for k in ("raw", "target", "clean"))

    serial = _collect(make_loader(ds, 4, num_workers=0, seed=1), [0, 1])
    assert len(serial) == 2 * len(ds)
    assert any(not torch.equal(serial[0, i][0], serial[1, i][0]) for i in range(len(ds)))
    loader = make_loader(ds, 4, num_workers=2, seed=1, persistent_workers=True)
    parallel = _collect(loader, [0, 1])  # set_epoch reaches the persistent workers
    assert serial.keys() == parallel.keys()
    for key, (raw, target) in serial.items():
        assert torch.equal(raw, parallel[key][0]) and torch.equal(target, parallel[key][1]), key
    batch = next(iter(loader))
    assert batch["raw"].dtype == torch.uint16 and batch["raw"].shape == (4, 24, 24)


# -- sampler --------------------------------------------------------------------------------------


class Sized:
    def __init__(self, n, shard_size):
        self.n, self.shard_size = n, shard_size

    def __len__(self):
        return self.n


def epoch_batches(ds, world, epoch=0, **kw):
    per_rank = []
    for rank in range(world):
        s = ShardAwareSampler(ds, rank=rank, world_size=world, **kw)
        s.set_epoch(epoch)
        per_rank.append(list(s))
        assert len(per_rank[-1]) == len(s)
    return per_rank


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n", [100, 101, 96, 7])
def test_sampler_covers_every_index_once(n, world):
    ds = Sized(n, 16)
    per_rank = epoch_batches(ds, world, batch_size=8, seed=3)
    assert len({len(b) for b in per_rank}) == 1  # same number of batches on every rank
    flat = [i for batches in per_rank for b in batches for i in b]
    assert all(len(b) >= 1 and len(b) <= 8 for batches in per_rank for b in batches)
    if n % (8 * world) >= world or n % (8 * world) == 0:  # no padding needed
        assert sorted(flat) == list(range(n))
    else:  # the last round has fewer samples than ranks: padded, every index still present
        assert set(flat) == set(range(n)) and len(flat) == n + world - n % (8 * world)
    spans = [len({i // 16 for i in b}) for batches in per_rank for b in batches]
    assert max(spans) <= 2
    if n % 16 == 0:  # shard size a multiple of the batch size: one shard per batch
        assert max(spans) == 1
    # drop_last: full batches only, equal counts, disjoint
    dropped = epoch_batches(ds, world, batch_size=8, seed=3, drop_last=True)
    assert all(len(b) == 8 for batches in dropped for b in batches)
    assert {len(b) for b in dropped} == {n // (8 * world)}
    flat = [i for batches in dropped for b in batches for i in b]
    assert len(flat) == len(set(flat)) == n // (8 * world) * 8 * world


def test_sampler_epochs_seeds_and_shard_locality(stores):
    ds = Sized(1000, 32)
    a = epoch_batches(ds, 1, epoch=0, batch_size=12, seed=0)[0]
    assert a == epoch_batches(ds, 1, epoch=0, batch_size=12, seed=0)[0]
    assert a != epoch_batches(ds, 1, epoch=1, batch_size=12, seed=0)[0]
    assert a != epoch_batches(ds, 1, epoch=0, batch_size=12, seed=1)[0]
    spans = [len({i // 32 for i in b}) for b in a]
    assert max(spans) <= 2 and np.mean(np.array(spans) == 1) > 0.6
    starts = [b[0] // 32 for b in a[::3]]
    assert starts != sorted(starts)  # shard order is shuffled
    plain = epoch_batches(ds, 2, batch_size=10, shuffle=False)
    assert plain[0][:2] == [list(range(10)), list(range(20, 30))]
    assert plain[1][0] == list(range(10, 20))
    # a real dataset: shard size from the raw array's shards
    real = CFADataset(stores["nona"])
    batches = epoch_batches(real, 2, batch_size=2, seed=0)
    assert sorted(i for r in batches for b in r for i in b) == list(range(10))
    assert all(len({real.shard_of(i) for i in b}) == 1 for r in batches for b in r)
    with pytest.raises(ValueError, match="rank"):
        ShardAwareSampler(ds, 4, rank=2, world_size=2)


def test_several_crops_per_sample_share_a_batch_and_one_decode(stores, monkeypatch):
    from cfasim.data.reader import CheckedArray

    k, ds = 3, CFADataset(stores["nona"], crop=18, augment=True, crops_per_sample=3, seed=5)
    assert len(ds) == k * ds.count == 30
    stored = zarr.open_group(stores["nona"], mode="r")["train"]
    # items j, j + 10, j + 20: independent crops of sample j, each the stored pixels
    for j in (0, 7):
        items = [ds[j + r * ds.count] for r in range(k)]
        assert {it["index"] for it in items} == {j}
        assert len({ds.crop_params(j + r * ds.count) for r in range(k)}) == k
        for r, it in enumerate(items):
            y0, x0, name = ds.crop_params(j + r * ds.count)
            want = _BY_NAME[name].apply(stored["raw"][j, y0 : y0 + 18, x0 : x0 + 18])
            np.testing.assert_array_equal(it["raw"].numpy(), want)
    # the sampler keeps a sample's crops together and yields every item once per epoch
    batches = ShardAwareSampler(ds, batch_size=6, seed=0).batches()
    assert sorted(i for b in batches for i in b) == list(range(30))
    assert all(len({i % ds.count for i in b}) == 2 for b in batches)
    assert all(len({ds.shard_of(i) for i in b}) <= 2 for b in batches)
    # a batch decodes each of its samples once, with the same items as one by one
    reads = []
    real = CheckedArray.__getitem__
    monkeypatch.setattr(
        CheckedArray, "__getitem__", lambda a, key: reads.append(key) or real(a, key)
    )
    ds._handles = None
    got = ds.__getitems__(batches[0])
    assert len(reads) == 2 * 2  # two samples, raw and target each
    for item, i in zip(got, batches[0], strict=True):
        want = ds[i]
        assert all(torch.equal(item[key], want[key]) for key in ("raw", "target"))
    with pytest.raises(DatasetError, match="crops_per_sample"):
        CFADataset(stores["nona"], crops_per_sample=0)
