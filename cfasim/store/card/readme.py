"""``README.md`` of a store: a datasheet (Gebru et al., "Datasheets for Datasets", arXiv
1803.09010) with a Hugging Face style YAML header.

One function per section: motivation, composition (splits, arrays, CFA pattern), collection
process (the synthesis), preprocessing, uses, distribution and licence, maintenance, how to cite
and the exact command that regenerates the store. Each returns its lines, ending with a blank
line; :func:`render_readme` joins them.
"""

from __future__ import annotations

import json
import math

from cfasim import DISTRIBUTION
from cfasim.store.card.command import generate_command
from cfasim.store.card.docs import doc_link
from cfasim.store.card.info import StoreInfo, array_meaning
from cfasim.store.card.licence import DEFAULT_CREATOR, Licence, cfasim_bibtex, licence_terms
from cfasim.store.card.synthesis import process_lines

CONFIG_DESCRIPTIONS = {
    "pattern": "colour filter array pattern",
    "source": "scene source: 'builtin' dead-leaves scenes, a 'chart:NAME' test chart or a "
    "folder of images",
    "count": "number of samples over all splits",
    "patch": "RAW patch side in pixels",
    "splits": "train, val, test fractions",
    "noise": "noise model ('brooks', 'none', fixed 'shot=S,read=R', or 'sensor')",
    "seed": "dataset seed (per-sample parameters and noise derive from it)",
    "transfer": "display transfer curve inverted by unprocessing",
    "tone": "whether the smoothstep tone curve is inverted",
    "bits": "ADC bit depth of the RAW",
    "black_level": "black level (DN)",
    "white_level": "white level (DN)",
    "clean": "whether the noise-free linear camera RGB is stored",
    "shard_samples": "samples per shard of the data arrays",
    "scale": "target side / RAW side (1, or 2 for DSLR-style targets)",
    "source_kind": "images, raw (real RAW files re-mosaicked), zurich or pairs (captured pairs)",
    "targets": "target folder of two-folder pairs",
    "sensor": "sensor profile of the physics noise (name or TOML path), or none",
    "iso": "ISO of the sensor",
    "sensor_seed": "identity of the simulated sensor (its PRNU/DSNU fixed pattern)",
    "exposure_time_s": "exposure time for dark current (s); none = the profile's",
    "optics": "optics and pixel effects (PSF, shading, crosstalk, blooming); empty = off",
}
"""The meaning of each generation parameter, for the table of the collection process."""

BROOKS_BIBTEX = """@inproceedings{brooks2019unprocessing,
  title = {Unprocessing Images for Learned Raw Denoising},
  author = {Brooks, Tim and Mildenhall, Ben and Xue, Tianfan and Chen, Jiawen and
            Sharlet, Dillon and Barron, Jonathan T.},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2019}
}"""


def render_readme(
    info: StoreInfo,
    *,
    url: str | None = None,
    license: str | None = None,
    creator: str | None = None,
    docs_url: str | None = None,
    citation: str | None = None,
) -> str:
    """The dataset card text (Markdown with a Hugging Face YAML header).

    Parameters
    ----------
    info : StoreInfo
        From :func:`cfasim.store.card.read_store`.
    url, license, creator, docs_url : str, optional
        Where the dataset is published, its licence URL (default: CC0 for built-in scenes,
        the source images' licence for a folder), who made it, base URL of the cfasim docs.
    citation : str, optional
        The dataset's own citation (BibTeX or text), shown first under "How to cite".

    Returns
    -------
    str
    """
    creator = creator or DEFAULT_CREATOR
    licence = licence_terms(info, license)
    sections = [
        _front_matter(info, licence, license),
        _summary(info),
        _preview(info),
        _motivation(creator),
        _composition(info),
        _splits_table(info),
        _arrays_table(info, docs_url),
        _cfa_pattern(info, docs_url),
        _collection(info, docs_url),
        _preprocessing(info),
        _uses(info),
        _distribution(licence),
        _maintenance(info, url),
        _citation(creator, info.attrs.get("version", "?"), citation),
        _regeneration(info),
    ]
    return "\n".join(line for section in sections for line in section)


# ---------------------------------------------------------------------------------------------
# Formatting


def _size_category(n: int) -> str:
    """The Hugging Face size category of ``n`` samples."""
    bounds = [
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
        (1_000_000_000, "100M<n<1B"),
    ]
    for bound, label in bounds:
        if n < bound:
            return label
    return "n>1B"


def _human(nbytes: int) -> str:
    """A byte count in B, KiB, MiB or GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes} B" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def _yaml_list(key: str, values: list[str]) -> list[str]:
    """A YAML list of JSON-quoted strings."""
    return [f"{key}:"] + [f"- {json.dumps(v)}" for v in values]


def _source_text(info: StoreInfo) -> str:
    """Where the scenes come from, in a few words."""
    if info.builtin:
        return "built-in procedural dead-leaves scenes"
    if info.chart:
        return f"the built-in {info.chart} test chart"
    return f"{len(info.attrs.get('sources', []))} image(s) from `{info.config.get('source')}`"


def _python_kwargs(cfg: dict) -> str:
    """A config as the keyword arguments of ``GenerateConfig`` (lists as tuples)."""
    parts = []
    for k, v in cfg.items():
        if isinstance(v, list):
            v = tuple(v)
        parts.append(f"{k}={v!r}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Sections


def _front_matter(info: StoreInfo, licence: Licence, license: str | None) -> list[str]:
    """The Hugging Face YAML header: licence, name, task, tags, size category."""
    pat = info.attrs["pattern"]
    lines = ["---", f"license: {licence.hub}"]
    if licence.hub == "other":
        lines.append(
            "license_name: "
            + json.dumps("source-images" if not info.synthetic and not license else "see-card")
        )
        if license:
            lines.append(f"license_link: {json.dumps(license)}")
    pretty = f"{info.name}: simulated {pat['name']} RAW/sRGB pairs"
    lines.append(f"pretty_name: {json.dumps(pretty)}")
    lines += _yaml_list("task_categories", ["image-to-image"])
    lines += _yaml_list("tags", _tags(info))
    lines += _yaml_list("size_categories", [_size_category(info.total)])
    return [*lines, "---", ""]


def _tags(info: StoreInfo) -> list[str]:
    """The Hugging Face tags: the tasks, synthetic or unprocessed, the CFA family, zarr."""
    return [
        "raw-image",
        "color-filter-array",
        "demosaicing",
        "denoising",
        "image-signal-processing",
        "synthetic" if info.synthetic else "unprocessing",
        f"{str(info.attrs['pattern']['name']).split(':')[0]}-cfa",
        "zarr",
    ]


def _summary(info: StoreInfo) -> list[str]:
    """The title, what the dataset is in one paragraph, and a table of its key facts."""
    a, cfg, pat = info.attrs, info.config, info.attrs["pattern"]
    version = a.get("version", "?")
    fmt = a.get("raw_format", {})
    source_text = _source_text(info)
    counts = ", ".join(f"{s.name} {s.count}" for s in info.splits)
    return [
        f"# {info.name}: simulated {pat['name']} camera RAW / sRGB pairs",
        "",
        f"Synthetic training pairs for learned ISPs, demosaicing and denoising on a "
        f"**{pat['name']}** colour filter array, generated by cfasim {version} from "
        f"{source_text}. Each sample pairs a noisy {fmt.get('bits')}-bit RAW mosaic with the "
        f"sRGB image it was unprocessed from, plus every parameter needed to reproduce it.",
        "",
        "| | |",
        "|---|---|",
        f"| format | cfasim format {a.get('format_version')} (Zarr v3 group), "
        f"written by cfasim {version} |",
        f"| pattern | {pat['name']}, tile `{pat['tile_text']}` "
        f"(period {pat['period'][0]}x{pat['period'][1]}) |",
        f"| samples | {info.total}: {counts} ({cfg.get('patch')}x{cfg.get('patch')} px) |",
        f"| source | {source_text} |",
        f"| noise | {cfg.get('noise')} |",
        f"| size | {_human(info.nbytes)} of array data |",
        "",
    ]


def _preview(info: StoreInfo) -> list[str]:
    """The preview grid a build writes next to the card (``preview.png``,
    :func:`cfasim.viz.preview.card_preview`): only for a store with samples, which has one."""
    first = next((s for s in info.splits if s.count), None)
    if first is None:
        return []
    return [
        "## Preview",
        "",
        "![preview](preview.png)",
        "",
        f"Samples of the {first.name} split, one per row: the RAW mosaic in false colour (each "
        "pixel in the colour of its filter) and as grey RAW, both scaled by the black and white "
        "levels; the clean image rendered with the sample's ISP (when stored); the sRGB target; "
        "a nearest-neighbour zoom of whole CFA tiles. Draw others with "
        f"`cfasim view DATASET --split {first.name} --indices 0,1`.",
        "",
    ]


def _motivation(creator: str) -> list[str]:
    """Why the dataset exists and who made it."""
    return [
        "## Motivation",
        "",
        "Modern smartphone sensors use non-Bayer colour filter arrays (Quad Bayer, Nona Bayer, "
        "QxQ) whose RAW images need dedicated demosaicing or remosaicing, and learned ISPs for "
        "them need large sets of aligned RAW/sRGB pairs that are expensive to capture. This "
        "dataset was synthesized with cfasim to provide such pairs with exactly known "
        "ground truth, noise levels and camera parameters. "
        f"Created by: {creator}, with the open-source simulator cfasim. Funding: not "
        "recorded.",
        "",
    ]


def _composition(info: StoreInfo) -> list[str]:
    """What a sample is; no labels, no people; independence of samples and splits."""
    cfg = info.config
    patch = f"{cfg.get('patch')}x{cfg.get('patch')}"
    clean = ", the noise-free linear camera RGB" if cfg.get("clean") else ""
    if info.synthetic:
        personal, shared = " (the scenes are synthetic).", "scene seeds."
    else:
        personal, shared = " beyond what the source images contain.", "source images."
    return [
        "## Composition",
        "",
        f"A sample is one scene of {patch} pixels: the RAW mosaic (one value per pixel, "
        f"the colour given by the CFA tile below), the sRGB target it was unprocessed from{clean}"
        ", and per-sample metadata (seeds, camera matrix, gains, noise levels, black/white "
        f"level). There are no labels, no people and no personal data{personal}"
        f" Samples are independent; splits do not share {shared}"
        " Nothing is missing: every sample of every split is rendered.",
        "",
    ]


def _splits_table(info: StoreInfo) -> list[str]:
    """Samples, shards and bytes of each split."""
    lines = [
        "### Splits",
        "",
        "| split | samples | shards per data array | size |",
        "|---|---|---|---|",
    ]
    for s in info.splits:
        raw = s.arrays.get("raw")
        shards = (
            f"{math.ceil(s.count / raw.shards[0])} x {raw.shards[0]} samples"
            if raw and raw.shards
            else "-"
        )
        lines.append(f"| {s.name} | {s.count} | {shards} | {_human(s.nbytes)} |")
    return [*lines, ""]


def _arrays_table(info: StoreInfo, docs_url: str | None) -> list[str]:
    """Shape, dimensions, dtype and meaning of every array, and how arrays are chunked."""
    lines = [
        "### Arrays (per split, `N` = samples of the split)",
        "",
        "| array | shape | dims | dtype | meaning |",
        "|---|---|---|---|---|",
    ]
    example = next((s for s in info.splits if s.arrays), None)
    for arr in example.arrays.values() if example is not None else ():
        shape = "(" + ", ".join(["N", *(str(d) for d in arr.shape[1:])]) + ")"
        shape = shape.replace("(N)", "(N,)")
        lines.append(
            f"| `{arr.name}` | {shape} | {', '.join(arr.dims)} | {arr.dtype} | "
            f"{array_meaning(arr.name)} |"
        )
    return [
        *lines,
        "",
        "Data arrays have an inner chunk of one sample and shards of several samples along "
        "`sample`; metadata arrays are one chunk each. Every array names its dimensions, so "
        '`xarray.open_zarr(path, group="train")` works. Full layout: '
        + doc_link("format", docs_url)
        + ".",
        "",
    ]


def _cfa_pattern(info: StoreInfo, docs_url: str | None) -> list[str]:
    """A drawing of the CFA tile (colour letters, top-left pixel first)."""
    pat = info.attrs["pattern"]
    letters = pat.get("color_letters", "RGBW")
    return [
        f"### CFA pattern `{pat['name']}` (one {pat['period'][0]}x{pat['period'][1]} tile, "
        "top-left pixel first)",
        "",
        "```text",
        "\n".join(" ".join(letters[c] for c in row) for row in pat["tile"]),
        "```",
        "",
        "The tile repeats over the patch from pixel (0, 0); the pattern JSON (tile as colour "
        "indices 0=R 1=G 2=B 3=W) is in the root attributes (`cfasim.pattern`). See "
        + doc_link("patterns", docs_url)
        + ".",
        "",
    ]


def _collection(info: StoreInfo, docs_url: str | None) -> list[str]:
    """The collection process: every generation parameter, then how samples were made."""
    rows = [
        f"| `{key}` | `{json.dumps(value)}` | {CONFIG_DESCRIPTIONS.get(key, '')} |"
        for key, value in info.config.items()
    ]
    return [
        "## Collection process (synthesis)",
        "",
        "No data was collected from people or the world: every sample is computed. "
        "Generation parameters (root attribute `cfasim.config`):",
        "",
        "| parameter | value | meaning |",
        "|---|---|---|",
        *rows,
        "",
        *process_lines(info, docs_url),
        "",
    ]


def _preprocessing(info: StoreInfo) -> list[str]:
    """What was done to the scenes or pairs before storing them (cropping only)."""
    if info.synthetic:
        text = "Built-in scenes and charts are rendered at the patch size."
    elif info.real_pairs:
        text = (
            "Each pair is cropped at a random position aligned to the CFA period (the "
            "same region of the mosaic and of the target), never resized; pairs that could "
            "not be decoded, failed the checks or were smaller than the patch were skipped."
        )
    else:
        text = (
            "Source images are decoded (8 or 16 bit), cropped at a random position "
            "aligned to the CFA period, never resized; 16-bit sources are rounded to 8 bit "
            "for the `target`. Images smaller than the patch or unreadable were skipped."
        )
    return [
        "## Preprocessing",
        "",
        "None beyond the synthesis above: no filtering, cleaning or labelling. " + text,
        "",
    ]


def _uses(info: StoreInfo) -> list[str]:
    """Intended uses and uses the dataset is not fit for."""
    if info.real_pairs:
        intended = "learning a real camera's RAW-to-RGB mapping (as PyNET on Zurich RAW-to-RGB)."
        not_intended = (
            "pixel-exact evaluation (captured pairs are only roughly aligned), or anything "
            "needing the camera's colour or noise parameters (not known, stored as NaN); "
            "uses the source pairs' licence does not permit."
        )
    else:
        intended = (
            "knowledge distillation (teacher on `clean`, student on `raw`); studying "
            "noise-aware methods with the exact per-sample noise levels; benchmarking ISP "
            "pipelines under controlled conditions."
        )
        not_intended = _simulated_misuses(info)
    return [
        "## Uses",
        "",
        "Intended: training and evaluating demosaicing, remosaicing, denoising and learned "
        "ISP models for this CFA; " + intended,
        "",
        "Not intended: " + not_intended,
        "",
    ]


def _simulated_misuses(info: StoreInfo) -> str:
    """What a simulated dataset cannot tell: a real camera's behaviour, real image quality."""
    return (
        "measuring the colour or noise behaviour of a specific real camera "
        "(the camera matrices are random mixtures and the noise model is a Gaussian "
        "approximation); claims about real-world image quality without validation on "
        "captured RAW; "
        + (
            "any use needing natural image statistics (dead leaves are a stylised scene model)."
            if info.builtin
            else "any use needing natural image statistics (a test chart is one fixed scene)."
            if info.chart
            else "uses the source images' licence does not permit."
        )
    )


def _distribution(licence: Licence) -> list[str]:
    """The licence and how the store is distributed (plain Zarr, Croissant, checksums)."""
    return [
        "## Distribution and licence",
        "",
        licence.text,
        "",
        "The store is a plain Zarr v3 group: it opens with `zarr` or `xarray`, without cfasim. "
        "`croissant.json` describes it in Croissant 1.1; `checksums.json` lists the sha256 "
        "and size of every file.",
        "",
    ]


def _maintenance(info: StoreInfo, url: str | None) -> list[str]:
    """Regenerate rather than patch; when the format version changes; the integrity check."""
    return [
        "## Maintenance",
        "",
        "The dataset is fully determined by its generation config and the cfasim version: "
        "rather than patching it, regenerate it (below). `format_version` changes only when "
        "a reader of the previous layout could misread a store. Integrity check: "
        '`python -c "from cfasim.store.validate import validate; '
        f"print(validate('{info.name}.zarr').format())\"`"
        + (f". Published at <{url}>." if url else "."),
        "",
    ]


def _citation(creator: str, version: str, citation: str | None = None) -> list[str]:
    """The dataset's citation when the publisher gave one, then BibTeX of cfasim and of the
    unprocessing paper."""
    own = []
    if citation:
        own = [
            "Please cite the dataset as:",
            "",
            "```" + ("bibtex" if citation.lstrip().startswith("@") else "text"),
            citation.strip(),
            "```",
            "",
            "and the software that generated it:",
            "",
        ]
    return [
        "## How to cite",
        "",
        *own,
        "```bibtex",
        cfasim_bibtex(creator, version),
        "",
        BROOKS_BIBTEX,
        "```",
        "",
    ]


def _regeneration(info: StoreInfo) -> list[str]:
    """The exact ``cfasim generate`` command and the Python call that rebuild the store."""
    cfg = info.config
    command, missing = generate_command(cfg, f"{info.name}.zarr")
    lines = [
        "## How to regenerate",
        "",
        "```bash",
        f"pip install {DISTRIBUTION}=={info.attrs.get('version', '?')}",
        command,
        "```",
        "",
    ]
    if missing:
        lines += [
            "The command line cannot set "
            + ", ".join(f"`{k}` = `{json.dumps(v)}`" for k, v in missing.items())
            + "; use the Python API below.",
            "",
        ]
    if not info.synthetic:
        lines += [
            "The source folder must hold the same images (same relative paths); the source "
            "digest above identifies the list.",
            "",
        ]
    return [
        *lines,
        "In Python (the full config):",
        "",
        "```python",
        "from cfasim.pipeline import GenerateConfig, build, plan",
        "",
        f"config = GenerateConfig({_python_kwargs(cfg)})",
        f'build(plan(config), "{info.name}.zarr")',
        "```",
        "",
    ]
