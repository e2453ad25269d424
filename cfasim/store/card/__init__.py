"""Dataset card of a finished store: ``README.md`` (a datasheet) and ``croissant.json``.

``README.md`` follows "Datasheets for Datasets" (Gebru et al., arXiv 1803.09010): motivation,
composition, synthesis process, preprocessing, uses, distribution, maintenance, plus how to
cite and the exact command that regenerates the store; it starts with a Hugging Face style
YAML header. ``croissant.json`` is Croissant 1.1 metadata (validated with ``mlcroissant``).

Everything is derived from the store itself (root attributes, array metadata, file sizes),
with no timestamps, so identical stores get byte-identical cards.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cfasim import DISTRIBUTION
from cfasim.errors import DatasetError
from cfasim.store import schema as dataset
from cfasim.store.status import open_root, unfinished_message

CROISSANT_SPEC = "http://mlcommons.org/croissant/1.1"
CC0_URL = "https://creativecommons.org/publicdomain/zero/1.0/"
ZARR_V3_SPEC = "https://zarr-specs.readthedocs.io/en/latest/v3/core/index.html"
ZARR_SHARDING_SPEC = (
    "https://zarr-specs.readthedocs.io/en/latest/v3/codecs/sharding-indexed/index.html"
)
DEFAULT_CREATOR = "cfasim contributors"

# The @context that mlcroissant 1.1.x generates for Croissant 1.1 (a different one triggers a
# "non-standard @context" warning).
CROISSANT_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

CROISSANT_DTYPES = {
    "uint8": "cr:UInt8",
    "uint16": "cr:UInt16",
    "uint32": "cr:UInt32",
    "uint64": "cr:UInt64",
    "int8": "cr:Int8",
    "int16": "cr:Int16",
    "int32": "cr:Int32",
    "int64": "cr:Int64",
    "float16": "cr:Float16",
    "float32": "cr:Float32",
    "float64": "cr:Float64",
}
SPLIT_URLS = {"train": "cr:TrainingSplit", "val": "cr:ValidationSplit", "test": "cr:TestSplit"}

DATA_DESCRIPTIONS = {
    "raw": "RAW codes on the CFA (noisy, quantised, black level added)",
    "target": "sRGB target of the same scene (8 bit)",
    "clean": "noise-free linear camera RGB in [0, 1] (before mosaicking)",
}

CONFIG_DESCRIPTIONS = {
    "pattern": "colour filter array pattern",
    "source": "scene source: 'builtin' dead-leaves scenes or a folder of images",
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

DOCS = {
    "format": "dataset-format.md",
    "unprocessing": "unprocessing.md",
    "noise": "noise.md",
    "patterns": "patterns.md",
}

CFASIM_BIBTEX = """@software{{cfasim,
  title = {{cfasim: simulated camera RAW for Bayer and non-Bayer colour filter arrays}},
  author = {{{{{creator}}}}},
  version = {{{version}}},
  note = {{Synthetic RAW/sRGB dataset generator (Zarr v3 datasets built with Dask)}}
}}"""

BROOKS_BIBTEX = """@inproceedings{brooks2019unprocessing,
  title = {Unprocessing Images for Learned Raw Denoising},
  author = {Brooks, Tim and Mildenhall, Ben and Xue, Tianfan and Chen, Jiawen and
            Sharlet, Dillon and Barron, Jonathan T.},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2019}
}"""


# ---------------------------------------------------------------------------------------------
# What the card says, read from the store


@dataclass
class ArrayInfo:
    """One array of one split, as stored."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    dims: tuple[str, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    files: int
    nbytes: int


@dataclass
class SplitInfo:
    """One split: sample count, arrays, bytes on disk."""

    name: str
    count: int
    arrays: dict[str, ArrayInfo] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


@dataclass
class StoreInfo:
    """Everything the card is written from."""

    name: str
    attrs: dict
    splits: list[SplitInfo]

    @property
    def config(self) -> dict:
        return self.attrs["config"]

    @property
    def builtin(self) -> bool:
        return self.config.get("source") == "builtin"

    @property
    def total(self) -> int:
        return sum(s.count for s in self.splits)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.splits)


def read_store(path) -> StoreInfo:
    """Read attributes, array shapes and file sizes of a complete store.

    Parameters
    ----------
    path : str or os.PathLike
        Store root.

    Returns
    -------
    StoreInfo

    Raises
    ------
    cfasim.store.schema.DatasetError
        If ``path`` is not a cfasim store or its build did not complete.
    """
    from cfasim.store.checksums import scan_store
    from cfasim.store.fs import StoreFS

    fs = StoreFS(path)
    root = open_root(path)
    attrs = root.attrs[dataset.ATTRS_KEY]
    if attrs.get("status") not in ("complete", "finalizing"):
        raise DatasetError(unfinished_message(path, attrs.get("status")))
    chunk_files: dict[str, list[str]] = {}
    for rel in scan_store(fs).chunks:
        array = rel.split("/c/")[0] if "/c/" in rel else rel.rsplit("/", 1)[0]
        chunk_files.setdefault(array, []).append(rel)
    splits = []
    for name, count in attrs["splits"].items():
        info = SplitInfo(name, int(count))
        if count and name in root:
            group = root[name]
            for arr_name in [*dataset.DATA_ARRAYS, *dataset.META_ARRAYS]:
                if arr_name not in group:
                    continue
                arr = group[arr_name]
                files = chunk_files.get(f"{name}/{arr_name}", [])
                info.arrays[arr_name] = ArrayInfo(
                    arr_name,
                    tuple(int(s) for s in arr.shape),
                    str(arr.dtype),
                    tuple(arr.metadata.dimension_names or ()),
                    tuple(int(s) for s in arr.chunks),
                    tuple(int(s) for s in arr.shards) if arr.shards else None,
                    len(files),
                    sum(fs.size(f) for f in files),
                )
        splits.append(info)
    return StoreInfo(_dataset_name(attrs), attrs, splits)


def _dataset_name(attrs: dict) -> str:
    """A name from the content (pattern, count, seed), not the folder: identical settings give
    byte-identical cards wherever the store is written."""
    pattern = str(attrs["pattern"]["name"]).replace(":", "-").replace("/", "-")
    return f"cfasim-{pattern}-{sum(attrs['splits'].values())}-seed{attrs['seed']}"


# ---------------------------------------------------------------------------------------------
# Regeneration command


def generate_command(config: dict, out: str) -> tuple[str, dict]:
    """The ``cfasim generate`` command line that rebuilds a store from its config.

    Every content-affecting option of ``cfasim generate`` is written explicitly (not only the
    non-default ones), so the command stays exact if a default changes. Parameters of the
    config that the installed CLI has no option for are returned separately, and only when
    the value the CLI would use differs from the stored one.

    Parameters
    ----------
    config : dict
        ``attrs["cfasim"]["config"]`` of a store.
    out : str
        Value of ``--out``.

    Returns
    -------
    command : str
        Shell-quoted command line.
    missing : dict
        Config keys (and stored values) that the command cannot express.
    """
    from cfasim.store.generate_config import option_params

    options = option_params()
    args = ["cfasim", "generate"]
    missing = {}
    for key, value in config.items():
        param = options.get(key)
        if param is None or not getattr(param, "opts", None):
            missing[key] = value
            continue
        if isinstance(value, bool):
            if value:
                args.append(param.opts[0])
            elif param.secondary_opts:
                args.append(param.secondary_opts[0])
            continue
        if value is None:
            continue
        if isinstance(value, list | tuple):
            text = ",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        args += [param.opts[0], text]
    args += ["--out", out]
    if missing:
        missing = _unexpressible(config, args, missing)
    return shlex.join(args), missing


def _unexpressible(config: dict, args: list[str], candidates: dict) -> dict:
    """Keys whose stored value differs from what the CLI derives from ``args``."""
    try:
        rebuilt = config_from_command(shlex.join(args))
    except Exception:  # the CLI or the pipeline cannot rebuild it: report all candidates
        return candidates
    return {k: v for k, v in candidates.items() if rebuilt.get(k) != v}


def config_from_command(command: str) -> dict:
    """Parse a ``cfasim generate`` command line back into the config it generates.

    Mirrors what ``cfasim generate`` does: parse the options with click, build a
    ``GenerateConfig`` from those it accepts, validate it.

    Parameters
    ----------
    command : str
        A command line as written by :func:`generate_command`.

    Returns
    -------
    dict
        The config as it would be stored in the dataset attributes.
    """
    import click

    from cfasim.store.generate_config import GenerateConfig, config_dict, content_options

    words = shlex.split(command)
    if words[:2] != ["cfasim", "generate"]:
        raise ValueError(f"not a cfasim generate command: {command!r}")
    parser = click.command()(click.option("--out")(content_options(lambda **kw: None)))
    params = parser.make_context("generate", words[2:]).params
    params.pop("out")
    return config_dict(GenerateConfig(**params).validated())


# ---------------------------------------------------------------------------------------------
# README.md


def _size_category(n: int) -> str:
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
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes} B" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def _span(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _tile_drawing(pattern: dict) -> str:
    letters = pattern.get("color_letters", "RGBW")
    return "\n".join(" ".join(letters[c] for c in row) for row in pattern["tile"])


def _doc(name: str, docs_url: str | None) -> str:
    page = DOCS[name]
    if docs_url:
        return f"[docs/{page}]({docs_url.rstrip('/')}/{page})"
    return f"`docs/{page}` of the cfasim sources"


def _yaml_list(key: str, values: list[str]) -> list[str]:
    return [f"{key}:"] + [f"- {json.dumps(v)}" for v in values]


def _licence(info: StoreInfo, license: str | None) -> tuple[str, str, str | dict]:
    """(Hugging Face licence id, licence text for the card, Croissant licence)."""
    if info.builtin:
        text = (
            "Every sample is synthetic: the scenes are procedural dead-leaves images drawn by "
            "cfasim from the dataset seed, and no third-party image, photograph or personal "
            "data went into it."
        )
        if license and license != CC0_URL:
            return "other", f"{text} Licence: <{license}> (set by the publisher).", license
        text += (
            f" The dataset is dedicated to the public domain under [CC0 1.0]({CC0_URL}) (no "
            "rights reserved); attribution through the citation below is appreciated but "
            "not required."
        )
        return "cc0-1.0", text, CC0_URL
    n = len(info.attrs.get("sources", []))
    text = (
        f"The scenes are crops of {n} source image(s) from the folder "
        f"`{info.config.get('source')}`. The RAW, target (and clean) images are derived "
        "works of those images, so **the licence of this dataset is that of the source images**: "
        "check it before redistributing or using the data. The generation parameters and "
        "metadata arrays contain no third-party content."
    )
    if license:
        return "other", f"Licence: <{license}> (set by the publisher). " + text, license
    croissant = {
        "@type": "sc:CreativeWork",
        "name": "Licence of the source images",
        "description": (
            f"Derived from {n} source image(s); the licence is that of the source images."
        ),
    }
    return "other", text, croissant


def render_readme(
    info: StoreInfo,
    *,
    url: str | None = None,
    license: str | None = None,
    creator: str | None = None,
    docs_url: str | None = None,
) -> str:
    """The dataset card text (Markdown with a Hugging Face YAML header).

    Parameters
    ----------
    info : StoreInfo
        From :func:`read_store`.
    url, license, creator, docs_url : str, optional
        Where the dataset is published, its licence URL (default: CC0 for built-in scenes,
        the source images' licence for a folder), who made it, base URL of the cfasim docs.

    Returns
    -------
    str
    """
    a, cfg, pat = info.attrs, info.config, info.attrs["pattern"]
    creator = creator or DEFAULT_CREATOR
    hf_licence, licence_text, _ = _licence(info, license)
    version = a.get("version", "?")
    fmt = a.get("raw_format", {})
    counts = {s.name: s.count for s in info.splits}
    command, missing = generate_command(cfg, f"{info.name}.zarr")
    tags = [
        "raw-image",
        "color-filter-array",
        "demosaicing",
        "denoising",
        "image-signal-processing",
        "synthetic" if info.builtin else "unprocessing",
        f"{str(pat['name']).split(':')[0]}-cfa",
        "zarr",
    ]
    lines = ["---", f"license: {hf_licence}"]
    if hf_licence == "other":
        lines.append(
            "license_name: "
            + json.dumps("source-images" if not info.builtin and not license else "see-card")
        )
        if license:
            lines.append(f"license_link: {json.dumps(license)}")
    pretty = f"{info.name}: simulated {pat['name']} RAW/sRGB pairs"
    lines.append(f"pretty_name: {json.dumps(pretty)}")
    lines += _yaml_list("task_categories", ["image-to-image"])
    lines += _yaml_list("tags", tags)
    lines += _yaml_list("size_categories", [_size_category(info.total)])
    lines += ["---", ""]

    source_text = (
        "built-in procedural dead-leaves scenes"
        if info.builtin
        else f"{len(a.get('sources', []))} image(s) from `{cfg.get('source')}`"
    )
    lines += [
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
        f"| samples | {info.total}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f" ({cfg.get('patch')}x{cfg.get('patch')} px) |",
        f"| source | {source_text} |",
        f"| noise | {cfg.get('noise')} |",
        f"| size | {_human(info.nbytes)} of array data |",
        "",
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
        "## Composition",
        "",
        "A sample is one scene of "
        f"{cfg.get('patch')}x{cfg.get('patch')} pixels: the RAW mosaic (one value per pixel, "
        "the colour given by the CFA tile below), the sRGB target it was unprocessed from"
        + (", the noise-free linear camera RGB" if cfg.get("clean") else "")
        + ", and per-sample metadata (seeds, camera matrix, gains, noise levels, black/white "
        "level). There are no labels, no people and no personal data"
        + (
            " (the scenes are synthetic)."
            if info.builtin
            else " beyond what the source images contain."
        )
        + " Samples are independent; splits do not share "
        + ("scene seeds." if info.builtin else "source images.")
        + " Nothing is missing: every sample of every split is rendered.",
        "",
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
    lines += [
        "",
        "### Arrays (per split, `N` = samples of the split)",
        "",
        "| array | shape | dims | dtype | meaning |",
        "|---|---|---|---|---|",
    ]
    example = next((s for s in info.splits if s.arrays), None)
    if example is not None:
        for arr in example.arrays.values():
            meaning = DATA_DESCRIPTIONS.get(arr.name) or dataset.META_ARRAYS[arr.name][3]
            shape = "(" + ", ".join(["N", *(str(d) for d in arr.shape[1:])]) + ")"
            shape = shape.replace("(N)", "(N,)")
            lines.append(
                f"| `{arr.name}` | {shape} | {', '.join(arr.dims)} | {arr.dtype} | {meaning} |"
            )
    lines += [
        "",
        "Data arrays have an inner chunk of one sample and shards of several samples along "
        "`sample`; metadata arrays are one chunk each. Every array names its dimensions, so "
        '`xarray.open_zarr(path, group="train")` works. Full layout: '
        + _doc("format", docs_url)
        + ".",
        "",
        f"### CFA pattern `{pat['name']}` (one {pat['period'][0]}x{pat['period'][1]} tile, "
        "top-left pixel first)",
        "",
        "```text",
        _tile_drawing(pat),
        "```",
        "",
        "The tile repeats over the patch from pixel (0, 0); the pattern JSON (tile as colour "
        "indices 0=R 1=G 2=B 3=W) is in the root attributes (`cfasim.pattern`). See "
        + _doc("patterns", docs_url)
        + ".",
        "",
        "## Collection process (synthesis)",
        "",
        "No data was collected from people or the world: every sample is computed. "
        "Generation parameters (root attribute `cfasim.config`):",
        "",
        "| parameter | value | meaning |",
        "|---|---|---|",
    ]
    for key, value in cfg.items():
        lines.append(f"| `{key}` | `{json.dumps(value)}` | {CONFIG_DESCRIPTIONS.get(key, '')} |")
    real_pairs = not dataset.has_isp_params(cfg)
    if real_pairs:
        lines += ["", *_real_pairs_text(cfg, a, fmt, docs_url)]
    else:
        lines += ["", "### Scenes", ""]
    if real_pairs:
        pass
    elif info.builtin:
        lines.append(
            "Scale-invariant dead-leaves images (opaque occluding disks with radii "
            "distributed as r^-3, some with gratings or shading ramps: natural-image-like "
            "spectrum, occlusions and sharp edges at every scale), one per sample, drawn from "
            "the sample's seed; no external image is used."
        )
    else:
        srcs = a.get("sources", [])
        heights = [s.get("height", 0) for s in srcs] or [0]
        widths = [s.get("width", 0) for s in srcs] or [0]
        depths = sorted({s.get("bit_depth") for s in srcs if s.get("bit_depth")})
        lines.append(
            f"{len(srcs)} source image(s) from `{cfg.get('source')}` "
            f"({_span(heights)} x {_span(widths)} px, "
            f"{'/'.join(str(d) for d in depths) or '?'}-bit), each assigned to one split "
            "only; a sample is a random crop aligned to the CFA period (`crop_box`). The "
            "list (relative paths, sizes, bit depths) is the root attribute `cfasim.sources`, "
            f"its sha256 is `{a.get('source_digest')}`."
        )
    lines += [] if real_pairs else _synthesis_lines(cfg, a, fmt, docs_url)
    lines += [
        "",
        "## Preprocessing",
        "",
        "None beyond the synthesis above: no filtering, cleaning or labelling. "
        + (
            "Built-in scenes are rendered at the patch size."
            if info.builtin
            else "Each pair is cropped at a random position aligned to the CFA period (the "
            "same region of the mosaic and of the target), never resized; pairs that could "
            "not be decoded, failed the checks or were smaller than the patch were skipped."
            if real_pairs
            else "Source images are decoded (8 or 16 bit), cropped at a random position "
            "aligned to the CFA period, never resized; 16-bit sources are rounded to 8 bit "
            "for the `target`. Images smaller than the patch or unreadable were skipped."
        ),
        "",
        "## Uses",
        "",
        "Intended: training and evaluating demosaicing, remosaicing, denoising and learned "
        "ISP models for this CFA; "
        + (
            "learning a real camera's RAW-to-RGB mapping (as PyNET on Zurich RAW-to-RGB)."
            if real_pairs
            else "knowledge distillation (teacher on `clean`, student on `raw`); studying "
            "noise-aware methods with the exact per-sample noise levels; benchmarking ISP "
            "pipelines under controlled conditions."
        ),
        "",
        "Not intended: "
        + (
            "pixel-exact evaluation (captured pairs are only roughly aligned), or anything "
            "needing the camera's colour or noise parameters (not known, stored as NaN); "
            "uses the source pairs' licence does not permit."
            if real_pairs
            else "measuring the colour or noise behaviour of a specific real camera "
            "(the camera matrices are random mixtures and the noise model is a Gaussian "
            "approximation); claims about real-world image quality without validation on "
            "captured RAW; "
            + (
                "any use needing natural image statistics (dead leaves are a stylised scene model)."
                if info.builtin
                else "uses the source images' licence does not permit."
            )
        ),
        "",
        "## Distribution and licence",
        "",
        licence_text,
        "",
        "The store is a plain Zarr v3 group: it opens with `zarr` or `xarray`, without cfasim. "
        "`croissant.json` describes it in Croissant 1.1; `checksums.json` lists the sha256 "
        "and size of every file.",
        "",
        "## Maintenance",
        "",
        "The dataset is fully determined by its generation config and the cfasim version: "
        "rather than patching it, regenerate it (below). `format_version` changes only when "
        "a reader of the previous layout could misread a store. Integrity check: "
        '`python -c "from cfasim.store.checksums import validate; '
        f"print(validate('{info.name}.zarr').format())\"`"
        + (f". Published at <{url}>." if url else "."),
        "",
        "## How to cite",
        "",
        "```bibtex",
        CFASIM_BIBTEX.format(creator=creator, version=version),
        "",
        BROOKS_BIBTEX,
        "```",
        "",
        "## How to regenerate",
        "",
        "```bash",
        f"pip install {DISTRIBUTION}=={version}",
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
    if not info.builtin:
        lines += [
            "The source folder must hold the same images (same relative paths); the source "
            "digest above identifies the list.",
            "",
        ]
    lines += [
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
    return "\n".join(lines)


def _synthesis_lines(cfg: dict, a: dict, fmt: dict, docs_url: str | None) -> list[str]:
    """Card text of the simulation: the unprocessing (or RAW re-mosaic) chain and the noise."""
    if cfg.get("source_kind") == "raw":
        chain = (
            "Each real Bayer RAW file is black-subtracted (per CFA site), normalised by its "
            "white level and binned 2x2 to one linear camera-RGB pixel per Bayer cell (no "
            "interpolation); that linear image is mosaicked onto the CFA. Targets are rendered "
            "from the same linear image by cfasim's reference ISP with the file's own white "
            "balance and colour matrix (stored as `wb_gains`, `xyz2cam`)."
        )
    else:
        chain = (
            "The sRGB scene is inversely rendered into linear camera RGB (after Brooks et al., "
            "CVPR 2019): inverse tone curve"
            + ("" if cfg.get("tone", True) else " (disabled)")
            + f", inverse `{cfg.get('transfer')}` transfer curve, sRGB -> camera colour matrix "
            "(a random convex combination of four real camera matrices per sample, stored as "
            "`xyz2cam`/`rgb2cam`), inverse white balance and brightening gain with highlight "
            "protection (`red_gain ~ U(1.9, 2.4)`, `blue_gain ~ U(1.5, 1.9)`, "
            "`digital_gain = 1 / N(0.8, 0.1)`, stored as `wb_gains`, `digital_gain`), then "
            "mosaicking onto the CFA."
        )
    if cfg.get("noise") == "sensor":
        noise = [_sensor_text(cfg, a.get("sensor_profile") or {}, a, docs_url)]
    else:
        noise = [
            _noise_text(cfg.get("noise", "brooks")),
            "",
            f"The noisy value is quantised to {fmt.get('bits')}-bit codes with black level "
            f"{fmt.get('black')} and white level {fmt.get('white')}: "
            "`code = clip(round(black + v * (white - black)), 0, white)`. The Gaussian noise "
            f"comes from a counter-based generator ({a.get('noise_key', 'Philox4x32-10')}), "
            "and the per-sample parameters from `SeedSequence([seed, sample_index])`, so the "
            "dataset is bit-identical whatever the number of workers or shards. Details: "
            + _doc("noise", docs_url)
            + ".",
        ]
    return [
        "",
        "### Unprocessing chain",
        "",
        f"{chain} Details: {_doc('unprocessing', docs_url)}.",
        "",
        "### Noise model and its sampling",
        "",
        *noise,
    ]


def _sensor_text(cfg: dict, prof: dict, a: dict, docs_url: str | None) -> str:
    """Card text of physics noise from a sensor profile (stored in ``cfasim.sensor_profile``)."""
    from cfasim.sensor.profile import SensorProfile

    p = SensorProfile.from_dict(prof, origin="sensor_profile attribute")
    iso = float(cfg["iso"])
    optics = cfg.get("optics") or "none"
    return (
        f"Physics-based noise in electrons (after Wei et al., CVPR 2020) from the sensor profile "
        f"`{p.name}` ({p.description}; every parameter and its source is in the root attribute "
        f"`cfasim.sensor_profile`) at ISO {iso:g}: pixel pitch {p.pixel_pitch_um:g} um, full "
        f"well {p.full_well_e:g} e-, base ISO {p.base_iso:.1f}, analog gain "
        f"{p.analog_gain(iso):.3g}, conversion gain {p.conversion_gain(iso):.4g} DN/e-, "
        f"{p.electrons_at_white(iso):.4g} e- at the white level. Per pixel: "
        "`mu = v * e_white * (1 + prnu * n_prnu) + dark_current * t`, electrons "
        "`k ~ Poisson(mu)` (exact), clipped at the full well, plus DSNU, read noise "
        f"({p.read_noise_e:g} e-, {p.read_noise_distribution}), row noise ({p.row_noise_e:g} "
        f"e-), then `code = clip(round(black + K * e + adc_noise), 0, white)` with "
        f"{p.bits}-bit codes, black {p.black_level_dn}, white {p.white_level_dn}. PRNU "
        f"({p.prnu:g}) and DSNU ({p.dsnu_e:g} e-) are fixed for sensor seed "
        f"{cfg.get('sensor_seed', 0)}. Optics and pixel effects: `{optics}`. `shot_noise` and "
        "`read_noise` hold the equivalent normalised Poisson-Gaussian coefficients "
        "(1 / e_white; the variance at black over (white - black)^2). Random numbers come from "
        f"Philox4x32-10 keyed by the seed, so the dataset is bit-identical whatever the number "
        f"of workers. Details: {_doc('noise', docs_url)}."
    )


def _real_pairs_text(cfg: dict, a: dict, fmt: dict, docs_url: str | None) -> list[str]:
    """Card text of a dataset of real captured pairs: what was captured, nothing simulated."""
    srcs = a.get("sources", [])
    hints = sorted({str(s.get("split_hint")) for s in srcs if s.get("split_hint")})
    if cfg.get("source_kind") == "zurich":
        layout = (
            "the Zurich RAW-to-RGB layout (Ignatov, Van Gool, Timofte, CVPR Workshops 2020: "
            "`huawei_raw/*.png` Huawei P20 RGGB mosaics holding 10-bit codes, `canon/*.jpg` "
            "Canon 5D Mark IV sRGB crops of the same scene, matched by file name)"
        )
    else:
        layout = (
            f"two folders matched by file name (RAW mosaics in `{cfg.get('source')}`, "
            f"targets in `{cfg.get('targets')}`)"
        )
    return [
        "### Source pairs (captured, not simulated)",
        "",
        f"{len(srcs)} captured pair(s) from `{cfg.get('source')}` in {layout}. "
        + (
            f"Pairs keep the split of their sub-folder ({', '.join(hints)}); "
            if hints
            else "Each pair is assigned to one split only; "
        )
        + "a sample is a random crop aligned to the CFA period (`crop_box`, in target pixels; "
        f"the mosaic crop is `crop_box / {cfg.get('scale', 1)}`). The list (relative paths, "
        "sizes) is the root attribute `cfasim.sources`, its sha256 is "
        f"`{a.get('source_digest')}`.",
        "",
        "### What is stored",
        "",
        f"`raw` holds the camera's own mosaic codes ({fmt.get('bits')}-bit; black level "
        f"{fmt.get('black')} and white level {fmt.get('white')} as given to the build, not "
        "read from the camera) with its real sensor noise; `target` the DSLR image. Nothing "
        "is simulated: the per-sample ISP and noise arrays (`xyz2cam`, `rgb2cam`, `wb_gains`, "
        "`digital_gain`, `shot_noise`, `read_noise`) are NaN because the camera's processing "
        "is not known. Captured pairs are only roughly aligned (different cameras, lenses and "
        f"viewpoints). Format: {_doc('format', docs_url)}.",
    ]


def _python_kwargs(cfg: dict) -> str:
    parts = []
    for k, v in cfg.items():
        if isinstance(v, list):
            v = tuple(v)
        parts.append(f"{k}={v!r}")
    return ", ".join(parts)


def _noise_text(spec: str) -> str:
    from cfasim.sim.noise import LOG_SHOT_RANGE, READ_FROM_SHOT, NoiseModel

    model = NoiseModel.parse(spec)
    base = (
        "Heteroscedastic Gaussian (Poisson-Gaussian approximation) in normalised linear "
        "units (0 = black, 1 = white): `v_noisy = v + sqrt(shot * v + read) * z`, "
        "`z ~ N(0, 1)`. "
    )
    if model.mode == "none":
        return "No noise (`none`): the RAW is the clean camera value, only quantised."
    if model.mode == "fixed":
        return base + (
            f"Fixed levels for every sample: shot = {model.shot!r}, read = {model.read!r} "
            "(stored per sample as `shot_noise`, `read_noise`)."
        )
    lo, hi = (math.exp(v) for v in LOG_SHOT_RANGE)
    slope, intercept, sigma = READ_FROM_SHOT
    return base + (
        f"Levels sampled per sample as in Brooks et al.: `ln(shot) ~ U(ln {lo:g}, ln {hi:g})`, "
        f"`ln(read) = {slope:g} ln(shot) + {intercept:g} + N(0, {sigma:g})` (natural "
        "logarithms); stored per sample as `shot_noise`, `read_noise`."
    )


# ---------------------------------------------------------------------------------------------
# croissant.json


def croissant(
    info: StoreInfo,
    zarr_json_sha256: str,
    *,
    url: str | None = None,
    license: str | None = None,
    creator: str | None = None,
    version: str = "1.0.0",
    date_published: str | None = None,
) -> dict:
    """Croissant 1.1 JSON-LD describing a store (see :func:`write_card` for the arguments).

    The distribution is a ``cr:FileObject`` for the root ``zarr.json`` (with its sha256) and
    one ``cr:FileSet`` per array and split (glob over the array's chunk/shard files). Each
    split is a RecordSet with one record per sample and a field per array (per-sample shape
    in ``arrayShape``); a ``splits`` RecordSet maps split names to Croissant split types.
    The fields point at the Zarr chunk files: the files are Zarr v3 shards, which
    ``mlcroissant`` validates but cannot decode (read them with zarr or xarray).
    """
    a, cfg, pat = info.attrs, info.config, info.attrs["pattern"]
    _, _, licence = _licence(info, license)
    counts = ", ".join(f"{s.name} {s.count}" for s in info.splits)
    description = (
        f"Simulated camera RAW / sRGB training pairs on a {pat['name']} colour filter array "
        f"(tile {pat['tile_text']}), {info.total} samples of {cfg.get('patch')}x"
        f"{cfg.get('patch')} px ({counts}), generated by cfasim {a.get('version')} from "
        + (
            "built-in dead-leaves scenes"
            if info.builtin
            else f"{len(a.get('sources', []))} source image(s)"
        )
        + f" with noise model '{cfg.get('noise')}'. Stored as a sharded Zarr v3 group "
        f"(cfasim format {a.get('format_version')}); read with zarr or xarray. The "
        "generation config is in the root attributes (zarr.json, attribute 'cfasim')."
    )
    distribution: list[dict] = [
        {
            "@type": "cr:FileObject",
            "@id": "zarr.json",
            "name": "zarr.json",
            "description": "Root group metadata: attributes (generation config, pattern, "
            "sources) and consolidated metadata of every array.",
            "contentUrl": "zarr.json",
            "encodingFormat": "application/json",
            "sha256": zarr_json_sha256,
        },
        {
            "@type": "cr:FileSet",
            "@id": "array-metadata",
            "name": "array-metadata",
            "description": "Zarr v3 metadata (zarr.json) of every split group and array.",
            "encodingFormat": "application/json",
            "includes": ["*/zarr.json", "*/*/zarr.json"],
        },
    ]
    record_sets: list[dict] = [
        {
            "@type": "cr:RecordSet",
            "@id": "splits",
            "name": "splits",
            "description": "The splits of the dataset.",
            "dataType": "cr:Split",
            "key": {"@id": "splits/name"},
            "field": [
                {
                    "@type": "cr:Field",
                    "@id": "splits/name",
                    "name": "name",
                    "description": "Split name (the group of the Zarr store).",
                    "dataType": "sc:Text",
                },
                {
                    "@type": "cr:Field",
                    "@id": "splits/url",
                    "name": "url",
                    "description": "Croissant split type (cr:TrainingSplit, ...).",
                    "dataType": "sc:URL",
                },
            ],
            "data": [
                {"splits/name": s.name, "splits/url": SPLIT_URLS.get(s.name, "cr:Split")}
                for s in info.splits
            ],
        }
    ]
    for s in info.splits:
        if not s.arrays:
            continue
        file_set = f"{s.name}-arrays"
        data_names = [n for n in s.arrays if n in dataset.DATA_ARRAYS]
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": file_set,
                "name": file_set,
                "description": (
                    f"Chunk files of the arrays of the {s.name} split: Zarr v3 shards "
                    f"(sharding_indexed codec, {ZARR_SHARDING_SPEC}) for "
                    f"{', '.join(data_names)}, one plain chunk per metadata array "
                    f"({sum(a.files for a in s.arrays.values())} files). Decode with zarr."
                ),
                "encodingFormat": ZARR_V3_SPEC,
                "includes": [f"{s.name}/{name}/c/**" for name in s.arrays],
            }
        )
        fields = []
        for arr in s.arrays.values():
            meaning = DATA_DESCRIPTIONS.get(arr.name) or dataset.META_ARRAYS[arr.name][3]
            item = {
                "@type": "cr:Field",
                "@id": f"{s.name}/{arr.name}",
                "name": arr.name,
                "description": (
                    f"{meaning}. Zarr array '{s.name}/{arr.name}' (files "
                    f"{s.name}/{arr.name}/c/...), shape {list(arr.shape)}, dims "
                    f"{list(arr.dims)}, {arr.dtype}; one value"
                    + (" (array)" if len(arr.shape) > 1 else "")
                    + " per sample."
                ),
                "dataType": CROISSANT_DTYPES.get(arr.dtype, "sc:Number"),
                "source": {"fileSet": {"@id": file_set}, "extract": {"fileProperty": "content"}},
            }
            if len(arr.shape) > 1:
                item["isArray"] = True
                item["arrayShape"] = ",".join(str(d) for d in arr.shape[1:])
            fields.append(item)
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": s.name,
                "name": s.name,
                "description": (
                    f"The {s.name} split ({SPLIT_URLS.get(s.name, 'cr:Split')}): {s.count} "
                    "samples, one record per sample = one index along the 'sample' dimension "
                    f"of every array of the Zarr group '{s.name}'. mlcroissant cannot decode "
                    "Zarr chunks: read the records with zarr or xarray."
                ),
                "field": fields,
            }
        )
    doc = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_SPEC,
        "name": info.name,
        "description": description,
        "license": licence,
        "creator": {"@type": "sc:Organization", "name": creator or DEFAULT_CREATOR},
        "citeAs": CFASIM_BIBTEX.format(
            creator=creator or DEFAULT_CREATOR, version=a.get("version", "?")
        ),
        "version": version,
        "keywords": [
            "raw image",
            "colour filter array",
            pat["name"],
            "demosaicing",
            "denoising",
            "ISP",
            "synthetic data",
            "zarr",
        ],
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if url:
        doc["url"] = url
    if date_published:
        doc["datePublished"] = date_published
    return doc


# ---------------------------------------------------------------------------------------------
# Writing


def _write_text(root, rel: str, text: str) -> None:
    root.write_bytes(rel, text.encode("utf-8"))


def write_card(
    path,
    *,
    url: str | None = None,
    license: str | None = None,
    creator: str | None = None,
    version: str = "1.0.0",
    date_published: str | None = None,
    docs_url: str | None = None,
    root_json: bytes | None = None,
) -> tuple[Path | str, Path | str]:
    """Write ``README.md`` and ``croissant.json`` at the root of a complete (or finalizing)
    store.

    Both files are deterministic: identical stores (same folder name) get identical bytes.
    Run :func:`cfasim.store.checksums.write_manifest` afterwards so the checksums cover them
    (:func:`cfasim.store.checksums.finalize` does both).

    Parameters
    ----------
    path : str or os.PathLike
        Store root.
    url : str, optional
        Where the dataset is published (Croissant ``url``; omitted when not given).
    license : str, optional
        Licence URL. Default: CC0 1.0 for built-in scenes; for a folder source, "the licence
        of the source images" (a ``sc:CreativeWork`` in Croissant).
    creator : str, optional
        Who made the dataset (default "cfasim contributors").
    version : str
        Dataset version (semantic versioning) for Croissant.
    date_published : str, optional
        ISO date for Croissant ``datePublished``; omitted by default (no timestamps).
    docs_url : str, optional
        Base URL of the cfasim ``docs/`` folder for links in the card.
    root_json : bytes, optional
        The root ``zarr.json`` the store will have once complete (a finalizing store's is
        written after the card); default: the file as it is.

    Returns
    -------
    (Path, Path)
        Paths of ``README.md`` and ``croissant.json`` (URL strings for a store at a URL).
    """
    from cfasim.store.checksums import hash_stream
    from cfasim.store.fs import StoreFS

    root = StoreFS(path)
    info = read_store(path)
    if root_json is None:
        with root.open("zarr.json") as f:
            zarr_json_sha256 = hash_stream(f)
    else:
        zarr_json_sha256 = hashlib.sha256(root_json).hexdigest()
    _write_text(
        root,
        "README.md",
        render_readme(info, url=url, license=license, creator=creator, docs_url=docs_url),
    )
    doc = croissant(
        info,
        zarr_json_sha256,
        url=url,
        license=license,
        creator=creator,
        version=version,
        date_published=date_published,
    )
    _write_text(root, "croissant.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return root.location("README.md"), root.location("croissant.json")
