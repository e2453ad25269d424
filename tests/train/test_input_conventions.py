"""The public PyNET code's input convention as an adapter option: no black subtraction, / 1020
(or / 1023), planes B, Gb, R, Gr; recorded in checkpoints so public weights run unchanged."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cfasim.cfa import get_pattern  # noqa: E402
from cfasim.errors import ConfigError  # noqa: E402
from cfasim.train.cfa_adapter import CFAAdapter, convention_settings  # noqa: E402
from cfasim.train.checkpoint import adapter_from_record, adapter_record  # noqa: E402

RAW = np.random.default_rng(0).integers(0, 1024, (1, 8, 12)).astype(np.float32)


def public_pynet_planes(raw: np.ndarray, divisor: float) -> np.ndarray:
    """aiff22/PyNET-PyTorch's extract_bayer_channels, from its description (models.md §2.1)."""
    b, gb, r, gr = raw[1::2, 1::2], raw[0::2, 1::2], raw[0::2, 0::2], raw[1::2, 0::2]
    return np.stack([b, gb, r, gr]) / divisor


@pytest.mark.parametrize(("convention", "divisor"), [("pynet1020", 1020.0), ("pynet1023", 1023.0)])
def test_pynet_conventions_give_the_public_planes(convention, divisor):
    order, normalize = convention_settings(convention, black=64, white=1023)
    adapter = CFAAdapter(get_pattern("bayer"), normalize=normalize, order=order,
                         convention=convention)  # fmt: skip
    packed = adapter(torch.from_numpy(RAW))["packed"][0].numpy()
    np.testing.assert_allclose(packed, public_pynet_planes(RAW[0], divisor), rtol=1e-6)


def test_the_default_convention_is_unchanged():
    order, normalize = convention_settings("cfasim", black=64, white=1023)
    assert (order, normalize) == ("raster", (64.0, 1023.0))
    packed = CFAAdapter(get_pattern("bayer"), normalize=normalize)(torch.from_numpy(RAW))
    raw = RAW[0]
    want = np.stack([raw[0::2, 0::2], raw[0::2, 1::2], raw[1::2, 0::2], raw[1::2, 1::2]]) - 64
    np.testing.assert_allclose(packed["packed"][0].numpy(), want / 959, rtol=1e-5, atol=1e-6)


def test_the_convention_travels_in_the_checkpoint_record():
    order, normalize = convention_settings("pynet1020", 0, 1023)
    adapter = CFAAdapter(get_pattern("bayer"), normalize=normalize, order=order,
                         convention="pynet1020")  # fmt: skip
    back = adapter_from_record(adapter_record(adapter))
    assert (back.order, back.normalize, back.convention) == ("pynet", (0.0, 1020.0), "pynet1020")
    old = {
        k: v for k, v in adapter_record(adapter).items() if k not in ("order", "input_convention")
    }
    assert adapter_from_record(old).order == "raster"  # checkpoints from before the option


def test_bad_conventions_are_one_line():
    with pytest.raises(ConfigError, match="choose one of cfasim, pynet1020, pynet1023"):
        convention_settings("pynet999", 0, 1023)
    with pytest.raises(ConfigError, match=r"needs model\.packing = planes"):
        convention_settings("pynet1020", 0, 1023, packing="s2d")
