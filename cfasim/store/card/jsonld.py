"""``croissant.json`` of a store: Croissant 1.1 JSON-LD metadata (validated with ``mlcroissant``).

The distribution is a ``cr:FileObject`` for the root ``zarr.json`` (with its sha256), a
``cr:FileSet`` of the array metadata and one ``cr:FileSet`` per split (glob over its chunk and
shard files). Each split is a RecordSet with one record per sample and a field per array
(per-sample shape in ``arrayShape``); a ``splits`` RecordSet maps split names to Croissant split
types. The fields point at the Zarr chunk files: the files are Zarr v3 shards, which
``mlcroissant`` validates but cannot decode (read them with zarr or xarray).
"""

from __future__ import annotations

from cfasim.store import schema as dataset
from cfasim.store.card.info import ArrayInfo, SplitInfo, StoreInfo, array_meaning
from cfasim.store.card.licence import DEFAULT_CREATOR, cfasim_bibtex, licence_terms

CROISSANT_SPEC = "http://mlcommons.org/croissant/1.1"
ZARR_V3_SPEC = "https://zarr-specs.readthedocs.io/en/latest/v3/core/index.html"
ZARR_SHARDING_SPEC = (
    "https://zarr-specs.readthedocs.io/en/latest/v3/codecs/sharding-indexed/index.html"
)

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


def croissant(
    info: StoreInfo,
    zarr_json_sha256: str,
    *,
    url: str | None = None,
    license: str | None = None,
    creator: str | None = None,
    version: str = "1.0.0",
    date_published: str | None = None,
    citation: str | None = None,
    rai: dict | None = None,
) -> dict:
    """Croissant 1.1 JSON-LD describing a store (see :func:`cfasim.store.card.write_card` for
    the arguments); the module docstring says how the store is described. ``citation``
    replaces the cfasim BibTeX as ``citeAs``; ``rai`` adds ``rai:*`` properties
    (:func:`cfasim.store.card.rai.rai_fields`)."""
    splits = [s for s in info.splits if s.arrays]
    doc = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_SPEC,
        "name": info.name,
        "description": _description(info),
        "license": licence_terms(info, license).croissant,
        "creator": {"@type": "sc:Organization", "name": creator or DEFAULT_CREATOR},
        "citeAs": citation or cfasim_bibtex(creator, info.attrs.get("version", "?")),
        "version": version,
        "keywords": _keywords(info.attrs["pattern"]["name"]),
        "distribution": [*_root_files(zarr_json_sha256), *(_split_files(s) for s in splits)],
        "recordSet": [_splits_record_set(info), *(_split_record_set(s) for s in splits)],
    }
    if url:
        doc["url"] = url
    if date_published:
        doc["datePublished"] = date_published
    doc.update(rai or {})
    return doc


def _keywords(pattern: str) -> list[str]:
    """The keywords of a dataset on the CFA ``pattern``."""
    return [
        "raw image",
        "colour filter array",
        pattern,
        "demosaicing",
        "denoising",
        "ISP",
        "synthetic data",
        "zarr",
    ]


def _description(info: StoreInfo) -> str:
    """What the dataset is, its size and source, and how to read it."""
    a, cfg, pat = info.attrs, info.config, info.attrs["pattern"]
    counts = ", ".join(f"{s.name} {s.count}" for s in info.splits)
    source = (
        "built-in dead-leaves scenes"
        if info.builtin
        else f"the built-in {info.chart} test chart"
        if info.chart
        else f"{len(a.get('sources', []))} source image(s)"
    )
    return (
        f"Simulated camera RAW / sRGB training pairs on a {pat['name']} colour filter array "
        f"(tile {pat['tile_text']}), {info.total} samples of {cfg.get('patch')}x"
        f"{cfg.get('patch')} px ({counts}), generated by cfasim {a.get('version')} from "
        f"{source} with noise model '{cfg.get('noise')}'. Stored as a sharded Zarr v3 group "
        f"(cfasim format {a.get('format_version')}); read with zarr or xarray. The "
        "generation config is in the root attributes (zarr.json, attribute 'cfasim')."
    )


# ---------------------------------------------------------------------------------------------
# Distribution: the files


def _root_files(zarr_json_sha256: str) -> list[dict]:
    """The root ``zarr.json`` (a FileObject with its sha256) and the metadata of the groups
    and arrays (a FileSet)."""
    return [
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


def _file_set_id(split: SplitInfo) -> str:
    """The ``@id`` of the FileSet of a split's chunk files (its fields' source)."""
    return f"{split.name}-arrays"


def _split_files(split: SplitInfo) -> dict:
    """The FileSet of the chunk and shard files of one split's arrays."""
    data_names = [n for n in split.arrays if n in dataset.DATA_ARRAYS]
    files = sum(a.files for a in split.arrays.values())
    return {
        "@type": "cr:FileSet",
        "@id": _file_set_id(split),
        "name": _file_set_id(split),
        "description": (
            f"Chunk files of the arrays of the {split.name} split: Zarr v3 shards "
            f"(sharding_indexed codec, {ZARR_SHARDING_SPEC}) for "
            f"{', '.join(data_names)}, one plain chunk per metadata array "
            f"({files} files). Decode with zarr."
        ),
        "encodingFormat": ZARR_V3_SPEC,
        "includes": [f"{split.name}/{name}/c/**" for name in split.arrays],
    }


# ---------------------------------------------------------------------------------------------
# Record sets: the splits and their fields


def _splits_record_set(info: StoreInfo) -> dict:
    """The ``splits`` RecordSet: each split's name and Croissant split type."""
    return {
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


def _split_record_set(split: SplitInfo) -> dict:
    """One split's RecordSet: a record per sample, a field per array."""
    return {
        "@type": "cr:RecordSet",
        "@id": split.name,
        "name": split.name,
        "description": (
            f"The {split.name} split ({SPLIT_URLS.get(split.name, 'cr:Split')}): {split.count} "
            "samples, one record per sample = one index along the 'sample' dimension "
            f"of every array of the Zarr group '{split.name}'. mlcroissant cannot decode "
            "Zarr chunks: read the records with zarr or xarray."
        ),
        "field": [_field(split, arr) for arr in split.arrays.values()],
    }


def _field(split: SplitInfo, arr: ArrayInfo) -> dict:
    """The field of one array: its meaning, layout and dtype, read from the split's FileSet
    (an array field with its per-sample shape when a sample is not a scalar)."""
    per_sample_array = len(arr.shape) > 1
    item = {
        "@type": "cr:Field",
        "@id": f"{split.name}/{arr.name}",
        "name": arr.name,
        "description": (
            f"{array_meaning(arr.name)}. Zarr array '{split.name}/{arr.name}' (files "
            f"{split.name}/{arr.name}/c/...), shape {list(arr.shape)}, dims "
            f"{list(arr.dims)}, {arr.dtype}; one value"
            + (" (array)" if per_sample_array else "")
            + " per sample."
        ),
        "dataType": CROISSANT_DTYPES.get(arr.dtype, "sc:Number"),
        "source": {
            "fileSet": {"@id": _file_set_id(split)},
            "extract": {"fileProperty": "content"},
        },
    }
    if per_sample_array:
        item["isArray"] = True
        item["arrayShape"] = ",".join(str(d) for d in arr.shape[1:])
    return item
