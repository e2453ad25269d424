"""``cfasim card``: publication fields in README.md and croissant.json, Croissant RAI fields,
persistence in publication.json, refreshed checksums, errors, an interrupted rewrite."""

import datetime
import json
import shutil

import pytest
from click.testing import CliRunner

from cfasim.cli import main
from cfasim.errors import ConfigError, DatasetError
from cfasim.pipeline import GenerateConfig, plan
from cfasim.pipeline.builder import create_store
from cfasim.store import checksums
from cfasim.store.card import publish as publishing
from cfasim.store.card.licence import CC0_URL
from cfasim.store.card.publication import (
    PUBLICATION_FILE,
    Publication,
    check_date,
    check_license,
)
from cfasim.store.card.publish import publish_card
from cfasim.store.validate import validate
from cfasim.testing.fixtures import build_store

pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

CC_BY = "https://creativecommons.org/licenses/by/4.0/"
BIBTEX = (
    "@dataset{lab2026quad,\n  title = {Quad RAW pairs},\n  author = {Lab X},\n  year = {2026}\n}"
)
RAI_KEYS = {
    "rai:dataCollection",
    "rai:dataCollectionType",
    "rai:dataCollectionRawData",
    "rai:dataPreprocessingProtocol",
    "rai:dataAnnotationProtocol",
    "rai:dataUseCases",
    "rai:dataBiases",
    "rai:dataLimitations",
    "rai:dataSocialImpact",
    "rai:personalSensitiveInformation",
    "rai:dataReleaseMaintenancePlan",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_store(
        tmp_path_factory.mktemp("publish") / "quad.zarr", pattern="quad", count=6, patch=16
    )


@pytest.fixture
def store(built, tmp_path):
    out = tmp_path / "quad.zarr"
    shutil.copytree(built, out)
    return out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def croissant(path) -> dict:
    return json.loads((path / "croissant.json").read_text())


def validate_croissant(path):
    mlc = pytest.importorskip("mlcroissant")
    ds = mlc.Dataset(jsonld=str(path / "croissant.json"))  # raises on any error; offline
    assert not ds.metadata.ctx.issues.errors
    return ds.metadata


def test_fields_land_in_readme_and_croissant(store):
    url = "https://example.org/datasets/quad"
    result = invoke(
        "card", store, "--license", CC_BY, "--creator", "Lab X", "--url", url,
        "--citation", BIBTEX, "--date-published", "2026-01-15", "--version", "1.2.0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = croissant(store)
    assert doc["license"] == CC_BY and doc["creator"]["name"] == "Lab X" and doc["url"] == url
    assert doc["citeAs"] == BIBTEX and doc["datePublished"] == "2026-01-15"
    assert doc["version"] == "1.2.0"
    assert RAI_KEYS <= set(doc)
    assert "No real-world data" in doc["rai:dataCollection"]
    assert doc["rai:personalSensitiveInformation"][0].startswith("None")
    readme = (store / "README.md").read_text()
    how_to_cite = readme.split("## How to cite")[1].split("## How to regenerate")[0]
    assert BIBTEX in how_to_cite and how_to_cite.index(BIBTEX) < how_to_cite.index("@software")
    assert f'license_link: "{CC_BY}"' in readme and f"Published at <{url}>" in readme
    assert "Created by: Lab X" in readme
    metadata = validate_croissant(store)
    assert metadata.cite_as == BIBTEX and metadata.url == url
    assert metadata.data_collection == doc["rai:dataCollection"]
    assert metadata.data_biases == doc["rai:dataBiases"]
    report = validate(store)
    assert report.ok and not report.warnings, report.format()
    listed = json.loads((store / checksums.MANIFEST).read_text())["files"]
    assert {PUBLICATION_FILE, "README.md", "croissant.json"} <= set(listed)


def test_fields_persist_across_calls(store):
    first = publish_card(
        store,
        Publication(license="CC-BY-4.0", creator="Lab X", citation=BIBTEX),
        today="2026-02-01",
    )
    assert first.license == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert first.date_published == "2026-02-01" and first.version == "1.0.0"
    result = invoke("card", store, "--url", "https://example.org/q")  # only the URL
    assert result.exit_code == 0, result.output
    doc = croissant(store)
    assert doc["license"] == first.license and doc["creator"]["name"] == "Lab X"
    assert doc["citeAs"] == BIBTEX and doc["url"] == "https://example.org/q"
    assert doc["datePublished"] == "2026-02-01"  # the first publication date is kept
    stored = json.loads((store / PUBLICATION_FILE).read_text())
    assert stored == {
        "citation": BIBTEX,
        "creator": "Lab X",
        "date_published": "2026-02-01",
        "license": first.license,
        "url": "https://example.org/q",
        "version": "1.0.0",
    }
    assert validate(store).ok


def test_date_defaults_to_today_and_citation_from_a_file(store, tmp_path):
    cite = tmp_path / "cite.bib"
    cite.write_text(BIBTEX + "\n", encoding="utf-8")
    before = datetime.datetime.now(datetime.UTC).date().isoformat()
    result = invoke("card", store, "--citation", f"@{cite}")
    after = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert result.exit_code == 0, result.output
    doc = croissant(store)
    assert doc["datePublished"] in {before, after}
    assert doc["citeAs"] == BIBTEX + "\n" and doc["license"] == CC0_URL  # built-in: CC0
    assert validate(store).ok


def test_a_build_has_no_publication_fields(built):
    doc = croissant(built)
    assert not {"datePublished", "url"} & set(doc) and not RAI_KEYS & set(doc)
    assert not (built / PUBLICATION_FILE).exists()


def test_folder_source_rai_says_personal_content_is_unknown(tmp_path, photos):
    out = build_store(
        tmp_path / "photos.zarr", source=str(photos), pattern="quad", count=6, patch=16
    )
    publish_card(out, Publication(creator="Lab Y"), today="2026-03-04")
    doc = croissant(out)
    assert doc["rai:personalSensitiveInformation"][0].startswith("Unknown")
    assert "Crops of 3 source image(s)" in doc["rai:dataCollection"]
    assert doc["rai:dataCollectionType"] == ["Secondary Data analysis", "Software Collection"]
    assert doc["license"]["@type"] == "sc:CreativeWork"  # the source images' licence
    validate_croissant(out)
    assert validate(out).ok


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("cc-by-4.0", "https://spdx.org/licenses/CC-BY-4.0.html"),
        ("MIT", "https://spdx.org/licenses/MIT.html"),
        ("CC0-1.0", CC0_URL),
        (CC_BY, CC_BY),
    ],
)
def test_licence_is_a_url_or_an_spdx_id(text, url):
    assert check_license(text) == url


@pytest.mark.parametrize("text", ["foo", "MIT OR Apache-2.0", "ftp://x/y", "LicenseRef-mine", ""])
def test_other_licences_are_refused(text):
    with pytest.raises(ConfigError, match="neither an http"):
        check_license(text)


@pytest.mark.parametrize("text", ["2026-02-30", "26-01-01", "2026-1-5", "today"])
def test_bad_dates_are_refused(text):
    with pytest.raises(ConfigError, match="not a calendar date"):
        check_date(text)


def test_errors_leave_the_store_untouched(store, tmp_path):
    before = {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()}
    for args, message in [
        (["--license", "not-a-licence"], "neither an http"),
        (["--date-published", "2026-13-01"], "not a calendar date"),
        (["--version", "1.0"], "semantic version"),
        (["--citation", f"@{tmp_path / 'missing.bib'}"], "cannot read the citation file"),
    ]:
        result = invoke("card", store, *args)
        assert result.exit_code == 1 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1  # one-line error
    assert {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()} == before

    result = invoke("card", tmp_path, "--creator", "x")
    assert result.exit_code == 1 and "not a Zarr group" in result.output
    partial = tmp_path / "partial.zarr"
    create_store(plan(GenerateConfig(pattern="quad", count=3, patch=16).validated()), partial)
    with pytest.raises(DatasetError, match="unfinished build"):
        publish_card(partial, Publication(creator="x"))
    assert not (partial / PUBLICATION_FILE).exists()


def test_an_interrupted_rewrite_is_named_and_finished_by_a_rerun(store, monkeypatch):
    def killed(path, replace=None):
        raise KeyboardInterrupt  # stands for a kill between the card and the checksums

    monkeypatch.setattr(publishing.checksums, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        publish_card(store, Publication(creator="Lab Z"), today="2026-04-05")
    monkeypatch.undo()
    report = validate(store)
    assert not report.ok
    assert any(f"finish it with: cfasim card {store}" in p for p in report.problems)
    assert all(p.split(":")[0] in {"README.md", "croissant.json"} for p in report.problems[:-1])

    result = invoke("card", store)  # no options: the fields of publication.json
    assert result.exit_code == 0, result.output
    assert croissant(store)["creator"]["name"] == "Lab Z"
    assert croissant(store)["datePublished"] == "2026-04-05"
    assert validate(store).ok


def test_damaged_publication_file_is_named(store):
    (store / PUBLICATION_FILE).write_text('{"licence": "x"}')
    with pytest.raises(DatasetError, match="not a cfasim publication file"):
        publish_card(store, Publication(creator="x"))


def test_a_store_being_written_is_refused(store):
    import subprocess
    import sys

    from cfasim.errors import DatasetLockedError
    from cfasim.store.lock import lock_location

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cfasim.store.lock import build_lock\n"
            f"with build_lock({str(store)!r}):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatasetLockedError, match="being written by another build"):
            publish_card(store, Publication(creator="x"))
    finally:
        holder.kill()
        holder.wait()
    assert not (store / PUBLICATION_FILE).exists()
    assert lock_location(store).exists()  # left by the killed holder; its flock is gone
    publish_card(store, Publication(creator="x"), today="2026-06-07")  # taken over
    assert not lock_location(store).exists()
    assert croissant(store)["creator"]["name"] == "x"


def test_a_store_at_a_url(built):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    memory.put(str(built), "/published.zarr", recursive=True)
    try:
        url = "memory://published.zarr"
        pub = publish_card(url, Publication(license="MIT", creator="Lab M"), today="2026-05-06")
        assert pub.license == "https://spdx.org/licenses/MIT.html"
        doc = json.loads(memory.cat_file("/published.zarr/croissant.json"))
        assert doc["license"] == pub.license and doc["datePublished"] == "2026-05-06"
        assert validate(url).ok
        assert not memory.exists("/published.zarr.lock")  # released
    finally:
        memory.rm("/published.zarr", recursive=True)


def test_captured_pairs_rai_says_nothing_is_simulated(tmp_path, zrr_root):
    out = build_store(tmp_path / "zrr.zarr", source=str(zrr_root), source_kind="zurich", patch=16)
    publish_card(out, Publication(license="CC-BY-4.0"), today="2026-07-08")
    doc = croissant(out)
    assert "nothing is simulated" in doc["rai:dataCollection"]
    assert doc["rai:dataCollectionType"] == ["Physical data collection", "Secondary Data analysis"]
    assert any("roughly aligned" in text for text in doc["rai:dataLimitations"])
    assert doc["rai:personalSensitiveInformation"][0].startswith("Unknown")
    validate_croissant(out)
    assert validate(out).ok


def test_a_chart_store_counts_as_synthetic():
    from cfasim.store.card.info import StoreInfo
    from cfasim.store.card.rai import rai_fields, store_kind

    attrs = {
        "config": {"source": "chart:siemens", "source_kind": "images", "noise": "brooks"},
        "pattern": {"name": "nona:rggb"},
        "version": "9.9.9",
    }
    info = StoreInfo("x", attrs, [])
    assert store_kind(info) == "synthetic"
    fields = rai_fields(info)
    assert "the test chart 'siemens'" in fields["rai:dataCollection"]
    assert "cfasim 9.9.9" in fields["rai:dataCollection"]
    assert "nona:rggb" in fields["rai:dataUseCases"][0]


def test_a_store_built_before_previews_gets_one_when_published(store):
    """The README links preview.png: publishing a store an older cfasim built (no preview)
    draws it, and the checksums cover it; an existing preview is kept byte for byte."""
    (store / checksums.PREVIEW_FILE).unlink()
    publish_card(store, Publication(creator="Lab"))
    png = (store / checksums.PREVIEW_FILE).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert checksums.PREVIEW_FILE in json.loads((store / checksums.MANIFEST).read_text())["files"]
    assert validate(store).ok
    publish_card(store, Publication(url="https://example.org/d"))
    assert (store / checksums.PREVIEW_FILE).read_bytes() == png
