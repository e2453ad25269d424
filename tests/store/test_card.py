"""Dataset card: README.md datasheet, croissant.json (validated by mlcroissant), regeneration."""

import json
import re
import shlex
import shutil

import pytest

from cfasim.errors import DatasetError
from cfasim.pipeline import GenerateConfig, plan
from cfasim.pipeline.builder import create_store
from cfasim.store import card
from cfasim.store import checksums as manifest
from cfasim.store import schema as dataset
from cfasim.store.card.info import _dataset_name
from cfasim.store.card.licence import CC0_URL
from cfasim.store.generate_config import config_dict
from cfasim.store.validate import validate
from cfasim.testing.fixtures import build_store

# rdflib (used by mlcroissant) warns about its own deprecated API
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

SECTIONS = [
    "## Motivation",
    "## Composition",
    "### Splits",
    "### Arrays",
    "### CFA pattern",
    "## Collection process (synthesis)",
    "### Unprocessing chain",
    "### Noise model and its sampling",
    "## Preprocessing",
    "## Uses",
    "## Distribution and licence",
    "## Maintenance",
    "## How to cite",
    "## How to regenerate",
]

CUSTOM = {
    "pattern": "quad:grbg",
    "count": 9,
    "patch": 32,
    "splits": (0.6, 0.2, 0.2),
    "noise": "shot=0.001,read=1e-05",
    "seed": 7,
    "transfer": "gamma2.2",
    "bits": 12,
    "black_level": 100,
    "clean": True,
    "shard_samples": 2,
}


def make_store(out, **overrides):
    return build_store(out, **{"pattern": "nona", "count": 12, "patch": 48, **overrides})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("card") / "nona.zarr")


@pytest.fixture(scope="module")
def custom_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("card") / "custom.zarr", **CUSTOM)


def attrs(path):
    return json.loads((path / "zarr.json").read_text())["attributes"]["cfasim"]


def header(readme: str) -> dict:
    yaml = pytest.importorskip("yaml")
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


def regenerate_line(readme: str) -> str:
    lines = [ln for ln in readme.splitlines() if ln.startswith("cfasim generate ")]
    assert len(lines) == 1
    return lines[0]


def validate_croissant(path):
    mlc = pytest.importorskip("mlcroissant")
    ds = mlc.Dataset(jsonld=str(path))  # raises mlc.ValidationError on any error; offline
    assert not ds.metadata.ctx.issues.errors
    return ds


def test_readme_is_a_datasheet_with_a_hub_header(store):
    readme = (store / "README.md").read_text()
    for section in SECTIONS:
        assert f"\n{section}" in readme, section
    meta = header(readme)
    assert meta["license"] == "cc0-1.0"
    assert meta["task_categories"] == ["image-to-image"]
    assert meta["size_categories"] == ["n<1K"]
    assert "nona-cfa" in meta["tags"]
    assert "R R R G G G\nR R R G G G\nR R R G G G\nG G G B B B" in readme
    assert "| train | 10 |" in readme and "| val | 1 |" in readme
    assert "| `raw` | (N, 48, 48) | sample, y, x | uint16 |" in readme
    for key, value in attrs(store)["config"].items():
        assert f"| `{key}` | `{json.dumps(value)}` |" in readme
    assert "ln(shot) ~ U(ln 0.0001, ln 0.012)" in readme
    assert "@software{cfasim" in readme and "CC0 1.0" in readme


def test_croissant_validates_and_describes_the_store(store):
    ds = validate_croissant(store / "croissant.json")
    doc = json.loads((store / "croissant.json").read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert doc["@type"] == "sc:Dataset" and "datePublished" not in doc
    assert doc["license"] == CC0_URL
    zarr_json = next(d for d in doc["distribution"] if d["@id"] == "zarr.json")
    assert zarr_json["sha256"] == manifest.hash_file(store / "zarr.json")
    records = {r["@id"]: r for r in doc["recordSet"]}
    assert set(records) == {"splits", "train", "val", "test"}
    raw = next(f for f in records["train"]["field"] if f["name"] == "raw")
    assert raw["dataType"] == "cr:UInt16" and raw["arrayShape"] == "48,48"
    assert [f["name"] for f in records["val"]["field"]] == ["raw", "target", *dataset.META_ARRAYS]
    splits = list(ds.records("splits"))
    assert [s["splits/url"] for s in splits] == [
        "cr:TrainingSplit",
        "cr:ValidationSplit",
        "cr:TestSplit",
    ]


def test_regeneration_command_round_trips(store, custom_store):
    for path in (store, custom_store):
        command = regenerate_line((path / "README.md").read_text())
        assert card.config_from_command(command) == attrs(path)["config"]
        out = shlex.split(command)[-1]
        assert shlex.split(command)[-2] == "--out" and out.startswith("cfasim-")
        assert out == _dataset_name(attrs(path)) + ".zarr"  # from content, not the folder
    command = regenerate_line((custom_store / "README.md").read_text())
    for option in [
        "--pattern quad:grbg",
        "--count 9",
        "--patch 32",
        "--splits 0.6,0.2,0.2",
        "--noise shot=0.001,read=1e-05",
        "--seed 7",
        "--transfer gamma2.2",
        "--bits 12",
        "--black-level 100",
        "--clean",
        "--shard-samples 2",
    ]:
        assert f" {option} " in command, option
    readme = (custom_store / "README.md").read_text()
    assert "cannot set" not in readme  # every parameter of this config has a CLI option
    assert "No noise" not in readme and "shot = 0.001, read = 1e-05" in readme
    validate_croissant(custom_store / "croissant.json")
    doc = json.loads((custom_store / "croissant.json").read_text())
    clean = next(
        f
        for r in doc["recordSet"]
        if r["@id"] == "train"
        for f in r["field"]
        if f["name"] == "clean"
    )
    assert clean["dataType"] == "cr:Float16" and clean["arrayShape"] == "32,32,3"


def test_parameters_without_a_cli_option_are_reported():
    config = config_dict(GenerateConfig(count=4, patch=48, tone=False, white_level=900).validated())
    command, missing = card.generate_command(config, "x.zarr")
    assert missing == {"tone": False, "white_level": 900}
    assert "--tone" not in command
    default = config_dict(GenerateConfig(count=4, patch=48).validated())
    assert card.generate_command(default, "x.zarr")[1] == {}


def test_card_and_manifest_are_deterministic(store, tmp_path):
    other = make_store(tmp_path / "nona.zarr")
    for name in ("README.md", "croissant.json", "checksums.json"):
        assert (other / name).read_bytes() == (store / name).read_bytes(), name
    card.write_card(other)
    assert (other / "README.md").read_bytes() == (store / "README.md").read_bytes()
    assert validate(other).ok


def test_folder_source_card_carries_the_source_licence(tmp_path, photos):
    out = make_store(tmp_path / "photos.zarr", source=str(photos), count=6)
    readme = (out / "README.md").read_text()
    assert header(readme)["license"] == "other"
    assert "licence of this dataset is that of the source images" in readme
    assert "3 source image(s)" in readme
    assert f"--source {photos}" in regenerate_line(readme)
    validate_croissant(out / "croissant.json")
    doc = json.loads((out / "croissant.json").read_text())
    assert doc["license"]["@type"] == "sc:CreativeWork"
    assert validate(out).ok


def test_publisher_options_and_incomplete_stores(store, tmp_path):
    url, licence = "https://example.org/data/nona", "https://creativecommons.org/licenses/by/4.0/"
    out = tmp_path / "copy.zarr"
    shutil.copytree(store, out)
    card.write_card(out, url=url, license=licence, creator="Lab X", date_published="2025-01-02")
    validate_croissant(out / "croissant.json")
    doc = json.loads((out / "croissant.json").read_text())
    assert doc["url"] == url and doc["license"] == licence
    assert doc["datePublished"] == "2025-01-02" and doc["creator"]["name"] == "Lab X"
    readme = (out / "README.md").read_text()
    assert header(readme)["license"] == "other" and re.search(r"author = \{\{Lab X\}\}", readme)

    partial = tmp_path / "partial.zarr"
    create_store(plan(GenerateConfig(count=3, patch=48).validated()), partial)
    with pytest.raises(DatasetError, match="unfinished build"):
        card.write_card(partial)
