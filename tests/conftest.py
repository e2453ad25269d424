"""Fixtures the tests share: folders of source files and tiny complete stores, built once per
session from :mod:`cfasim.testing.fixtures` (tests that modify a store copy it first)."""

import logging

import pytest

from cfasim.testing import fixtures


@pytest.fixture(autouse=True)
def _reset_cfasim_logger():
    """A CLI call (``cfasim -v/-q``) configures the ``cfasim`` logger; every test leaves it as
    the Python API finds it (no handler, level not set)."""
    yield
    logger = logging.getLogger("cfasim")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """A folder of three random 64x64 PNG photos (``p0.png`` ...)."""
    return fixtures.write_photos(tmp_path_factory.mktemp("photos"), n=3, side=64)


@pytest.fixture(scope="session")
def zrr_root(tmp_path_factory):
    """A Zurich RAW-to-RGB layout: ``train/`` with 4 pairs, ``test/`` with 2."""
    root = tmp_path_factory.mktemp("zrr")
    fixtures.make_zrr(root / "train", raw_stems=range(4), target_stems=range(4))
    fixtures.make_zrr(root / "test", raw_stems=range(2), target_stems=range(2))
    return root


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    """A complete 12-sample Quad store of 16x16 patches with ``clean`` (read it, don't write)."""
    out = tmp_path_factory.mktemp("tiny") / "quad.zarr"
    return fixtures.build_store(out, pattern="quad", count=12, patch=16, clean=True, seed=1)
