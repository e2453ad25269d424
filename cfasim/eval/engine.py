"""The evaluation engine behind ``cfasim evaluate``: baselines and models scored on a dataset split.

For every sample of a split, every method turns the stored RAW mosaic into display sRGB, which
is compared with the stored target:

- a classical **baseline** (:mod:`cfasim.eval.baselines`) demosaics the RAW, normalised with the
  sample's black / white levels and clipped to [0, 1], to linear camera RGB (by default on the
  white-balanced mosaic, as camera pipelines do, the gains undone afterwards: see
  :func:`cfasim.eval.rendering.render_baseline`); then cfasim's reference forward ISP
  (:func:`cfasim.isp.steps.process`) with the sample's **true** ISP parameters
  (:func:`cfasim.data.reader.sample_params`) gives sRGB, so only the demosaic differs from the
  target's rendering; for DSLR-style datasets (split attribute ``scale`` s > 1) the result is
  upscaled bilinearly by s, exactly as :func:`cfasim.isp.render.render_reference` does;
- a **model** arrives as a labelled NumPy callable (:mod:`cfasim.eval.models`; a trained
  checkpoint is :class:`cfasim.train.predict.CheckpointModel`, which the CLI builds): it runs
  on the RAW codes and the sample's levels; an output smaller than the target (e.g. a RAW
  cropped to the model's size multiple) is scored against the matching top-left target region.

Scores (:mod:`cfasim.eval.scoring`): PSNR, SSIM, MS-SSIM and mean CIEDE2000 of the sRGB output
against ``target / 255``; for methods with a full-resolution Bayer remosaic (``remosaic_malvar``,
``remosaic_menon``, ``remosaic_ed_menon`` on Quad / Nona / QxQ) also the MIPI 2022 KLD against
the stored noise-free ``clean`` signal and ``m4_no_lpips``, the MIPI M4 score **without its
LPIPS term** (never compare it with published M4), or, with LPIPS weights given by path
(``metrics={"lpips": lpips_distance(...)}``, :func:`cfasim.train.predict.lpips_distance`), the
real ``m4``.
Datasets without ``clean`` get no KLD (a note says so). On a chart dataset (``--source
chart:colorchecker`` or ``chart:slanted-edge``, :mod:`cfasim.eval.charts`) every method also
gets the CIEDE2000 of each ColorChecker patch (per sample ``chart_de00``, their mean) or the
slanted edge's MTF50 (``mtf50``, cycles per pixel), summarised in the report's ``charts``.

Samples are grouped by noise level (:mod:`cfasim.eval.noise`): the noise standard deviation at
linear level 0.18, ``sqrt(shot * 0.18 + read)`` from the stored ``shot_noise`` /
``read_noise``, split into ``noise_bins`` groups of (nearly) equal size by rank (quantile bins);
all samples share one bin when every level is the same (noise ``none`` or fixed levels). The
figure's crops (:mod:`cfasim.eval.crops`) are where the methods differ most; the result is an
:class:`~cfasim.eval.report.EvaluationReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.data.reader import open_dataset
from cfasim.eval import baselines as B
from cfasim.eval.charts import ChartScorer, chart_scorer
from cfasim.eval.crops import keep_crop
from cfasim.eval.models import Model, check_model, model_source, unique_labels
from cfasim.eval.noise import noise_bins as group_by_noise
from cfasim.eval.noise import noise_level
from cfasim.eval.rendering import render_baseline
from cfasim.eval.report import EvaluationReport
from cfasim.eval.scoring import REMOSAIC_BASELINES, image_scores, remosaic_scores, target_region
from cfasim.isp.render import TASKS, balanced_linear
from cfasim.progress import progress_bar
from cfasim.store.schema import has_isp_params


@dataclass
class _Run:
    """One evaluation: the split and its format, the methods, and what has been gathered."""

    dataset: str
    split_name: str
    split: object  # cfasim.data.reader.Split
    count: int
    pattern: CFAPattern
    fmt: object  # cfasim.sim.simulate.RawFormat
    baselines: list[str]
    models: dict[str, Model]
    white_balance: bool
    task: str = "srgb"  # cfasim.isp.render.TASKS
    isp_known: bool = True  # False for captured pairs: no ISP parameters, no noise levels
    metrics: dict[str, Callable] = field(default_factory=dict)  # extra metrics, e.g. "vgg"
    methods: dict[str, dict] = field(default_factory=dict)
    costs: dict[str, dict] = field(default_factory=dict)
    levels: list[float] = field(default_factory=list)
    crops: list[dict] = field(default_factory=list)
    chart: ChartScorer | None = None  # chart datasets: CIEDE2000 per patch or MTF50

    @property
    def scale(self) -> int:
        """The split's target scale (target pixels per RAW pixel)."""
        return int(self.split.scale)

    @property
    def has_clean(self) -> bool:
        """Whether the split stores the noise-free ``clean`` signal (needed for KLD)."""
        return "clean" in self.split.arrays


@dataclass
class _Sample:
    """One sample of the split, as the methods and the scores see it."""

    index: int
    item: dict
    params: object  # cfasim.isp.steps.UnprocessParams
    raw: np.ndarray
    black: float
    white: float
    target: np.ndarray  # float64 in [0, 1]
    linear: np.ndarray | None = None  # the linear task's target, computed when first needed


def evaluate(
    dataset_path,
    *,
    split: str = "test",
    baselines=None,
    models: Sequence[Model] = (),
    limit: int | None = None,
    noise_bins: int = 3,
    crop_size: int = 64,
    figure_crops: int = 3,
    latency_repeats: int = 3,
    white_balance: bool = True,
    task: str = "srgb",
    metrics: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> EvaluationReport:
    """Evaluate classical baselines and models on a cfasim dataset split.

    Parameters
    ----------
    dataset_path
        A cfasim dataset (path or URL, :func:`cfasim.open_dataset`).
    split
        ``"train"``, ``"val"`` or ``"test"``.
    baselines
        Baseline names (a sequence or one comma-separated string); ``None``, ``""`` or
        ``"all"``: every baseline applicable to the dataset's pattern
        (:func:`cfasim.eval.baselines.applicable`); an empty sequence: none.
    models
        Models following :class:`cfasim.eval.models.Model` (a ``label`` and
        ``__call__(raw, black, white)``, optionally ``source``, ``pattern`` and ``cost``), e.g.
        trained checkpoints (:func:`cfasim.train.predict.checkpoint_models`). Their labels are
        made unique against the baselines and each other (``NAME#2``).
    limit
        Evaluate only the first ``limit`` samples of the split.
    noise_bins
        Number of noise-level groups (quantile bins, see the module docstring).
    crop_size
        Side (target pixels) of the figure crops; clipped to the image size and rounded down
        to a multiple of the split's scale.
    figure_crops
        Number of figure rows: the samples whose best crop has the highest across-method
        variance of local RMSE (:func:`cfasim.eval.crops.best_crop`), one crop per sample.
    latency_repeats
        Timed forward passes per model with a ``cost`` (the median is reported).
    white_balance
        Baselines demosaic a white-balanced mosaic (see
        :func:`cfasim.eval.rendering.render_baseline`); False: the camera-RGB mosaic as stored.
    task
        ``"srgb"``: score display sRGB against the stored target (baselines rendered with the
        sample's true ISP); ``"linear"``: score white-balanced linear camera RGB against
        :func:`cfasim.isp.render.balanced_linear` of the stored noise-free ``clean`` signal
        (baselines: demosaic, then the true gains; no colour matrix or transfer; no CIEDE2000).
        Models must have been trained for the same task.
    metrics
        More per-sample metrics, name -> ``f(output, target)`` on (H, W, 3) sRGB in [0, 1],
        scored for every method, e.g. ``{"vgg": vgg_distance(path)}``
        (:func:`cfasim.train.predict.vgg_distance`, the public PyNET code's VGG-19 distance).
    log
        Optional progress callback (one line per sample).
    progress
        A bar of the samples on stderr with each method's PSNR (None: on a terminal unless
        ``cfasim -q``, :mod:`cfasim.progress`).

    Returns
    -------
    EvaluationReport
    """
    run = _prepare(
        dataset_path, split, baselines, models, limit, noise_bins, crop_size, white_balance
    )
    _set_task(run, task)
    run.metrics = dict(metrics or {})
    bar = progress_bar(desc=f"evaluate {split}", total=run.count, unit="sample", enabled=progress)
    with bar:
        for i in range(run.count):
            sample = _load_sample(run, i)
            outputs = _outputs(run, sample, latency_repeats)
            for name, out in outputs.items():
                _score(run, name, out, sample)
            if figure_crops > 0:
                run.crops = _keep_crop(run, sample, outputs, crop_size, figure_crops)
            scores = " ".join(f"{k} {_last_psnr(run, k):.2f}" for k in outputs)
            if log is not None:
                log(f"{split}[{i}] {scores}")
            bar.set_postfix_str(f"psnr {scores}", refresh=False)
            bar.update(1)
    return _report(run, limit, noise_bins, crop_size)


# -- setting up -----------------------------------------------------------------------------------


def _prepare(dataset_path, split, baselines, models, limit, noise_bins, crop_size, white_balance):
    """The :class:`_Run` of :func:`evaluate`: the split opened, the settings checked, the
    baselines chosen and the models checked and labelled."""
    ds = open_dataset(dataset_path)
    if split not in ds.splits:
        raise ValueError(f"no split {split!r} in {dataset_path}; splits: {', '.join(ds.splits)}")
    sp = ds[split]
    n = len(sp) if limit is None else min(len(sp), int(limit))
    if n < 1:
        raise ValueError(f"split {split!r} of {dataset_path} has no samples to evaluate")
    if int(noise_bins) < 1 or int(crop_size) < 1:
        raise ValueError(f"noise_bins and crop_size must be >= 1, got {noise_bins}, {crop_size}")
    names = _baseline_names(baselines, ds.pattern, has_isp_params(ds.config))
    models = list(models)
    if not names and not models:
        raise ValueError("nothing to evaluate: no baselines and no checkpoints")
    for model in models:
        check_model(model, ds.pattern)
    labels = unique_labels([m.label for m in models], names)
    run = _Run(
        dataset=str(dataset_path),
        split_name=split,
        split=sp,
        count=n,
        pattern=ds.pattern,
        fmt=ds.raw_format,
        baselines=names,
        models=dict(zip(labels, models, strict=True)),
        white_balance=bool(white_balance),
        isp_known=has_isp_params(ds.config),
        chart=chart_scorer(ds.config.get("source")),
    )
    run.methods = {b: {"kind": "baseline", "source": b, "per_sample": {}} for b in names}
    for label, model in run.models.items():
        run.methods[label] = {"kind": "model", "source": model_source(model), "per_sample": {}}
    return run


def _set_task(run: _Run, task: str) -> None:
    """Check that ``task`` can be scored on the run's data and by its models."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task == "linear" and not (run.has_clean and run.isp_known and run.scale == 1):
        raise ValueError(
            f"the linear task scores against the stored noise-free signal: {run.dataset} needs "
            "--clean, stored white balance and scale 1"
        )
    for label, model in run.models.items():
        trained = getattr(model, "task", "srgb")
        if trained != task:
            raise ValueError(f"{label} was trained for the {trained} task, not {task}")
    run.task = task


def _baseline_names(baselines, pattern: CFAPattern, noise_known: bool = True) -> list[str]:
    """The chosen baselines (see :func:`evaluate`), each checked to apply to ``pattern``;
    denoised ones (``nlm+``) need stored noise levels (captured pairs have none)."""
    if baselines is None or (isinstance(baselines, str) and baselines.strip() in ("", "all")):
        ok = B.applicable(pattern)
        return [n for n in ok if noise_known or not n.startswith(B.DENOISE_PREFIX)]
    if isinstance(baselines, str):
        baselines = [b for b in baselines.split(",") if b.strip()]
    names = [str(b).strip() for b in baselines]
    for name in names:
        B.check_baseline(name, pattern)
        if name.startswith(B.DENOISE_PREFIX) and not noise_known:
            raise ValueError(
                f"baseline {name!r} needs each sample's noise level, which captured pairs lack"
            )
    return list(dict.fromkeys(names))


# -- one sample -----------------------------------------------------------------------------------


def _load_sample(run: _Run, i: int) -> _Sample:
    """Sample ``i``: its arrays, ISP parameters and levels; records its noise level."""
    item = run.split[i]
    sample = _Sample(
        index=i,
        item=item,
        params=run.split.params(i) if run.isp_known else None,
        raw=np.asarray(item["raw"]),
        black=float(item.get("black_level", run.fmt.black)),
        white=float(item.get("white_level", run.fmt.white)),
        target=np.asarray(item["target"], dtype=np.float64) / 255.0,
    )
    run.levels.append(noise_level(float(item["shot_noise"]), float(item["read_noise"])))
    return sample


def _outputs(run: _Run, s: _Sample, latency_repeats: int) -> dict[str, np.ndarray]:
    """Every method's sRGB output of sample ``s`` (baselines first); a model's cost is measured
    on the first sample it sees."""
    noise = (float(s.item["shot_noise"]), float(s.item["read_noise"]))
    args = (run.pattern, s.params, s.black, s.white, run.scale, run.white_balance)
    denoised = {}  # the nlm+ pipelines share one denoised mosaic
    outputs = {
        b: render_baseline(b, s.raw, *args, noise=noise, task=run.task, denoised=denoised)
        for b in run.baselines
    }
    for label, model in run.models.items():
        if getattr(model, "condition", "none") != "none":  # the truth, as baselines are given
            meta = {"wb": s.params.channel_gains, "noise": noise}
            outputs[label] = np.asarray(model(s.raw, s.black, s.white, meta=meta))
        else:
            outputs[label] = np.asarray(model(s.raw, s.black, s.white))
        if label not in run.costs and callable(getattr(model, "cost", None)):
            run.costs[label] = dict(model.cost(s.raw, s.black, s.white, latency_repeats))
    return outputs


def _score(run: _Run, name: str, out: np.ndarray, s: _Sample) -> None:
    """Append method ``name``'s scores of sample ``s`` to its per-sample lists."""
    target = target_region(name, out, _target(run, s))
    values = image_scores(out, target, colour=run.task == "srgb")
    values.update({k: f(out, target) for k, f in run.metrics.items()})
    if run.chart is not None and run.task == "srgb":
        values.update(run.chart.score(name, out, s.target))
    if name in run.baselines and name in REMOSAIC_BASELINES and run.has_clean:
        values.update(
            remosaic_scores(
                s.raw, run.pattern, s.item["clean"], s.black, s.white, run.fmt.bits, values, name
            )
        )
    per_sample = run.methods[name]["per_sample"]
    for k, v in values.items():
        per_sample.setdefault(k, []).append(float(v))


def _target(run: _Run, s: _Sample) -> np.ndarray:
    """The sample's target for the run's task (cached on the sample)."""
    if run.task == "srgb":
        return s.target
    if getattr(s, "linear", None) is None:
        s.linear = balanced_linear(s.item["clean"], s.params.channel_gains)
    return s.linear


def _keep_crop(run: _Run, s: _Sample, outputs: dict, crop_size: int, keep: int) -> list[dict]:
    """The figure crops with sample ``s``'s best crop, if it ranks among the ``keep`` best."""
    p = s.params
    gains = np.ones(3) if p is None else p.channel_gains
    levels = (s.black, s.white, gains)
    return keep_crop(
        run.crops,
        outputs,
        _target(run, s),  # the task's target: the figure's last column and crop PSNRs
        s.raw,
        run.pattern,
        levels,
        run.scale,
        crop_size,
        keep,
        s.index,
    )


def _last_psnr(run: _Run, name: str) -> float:
    """Method ``name``'s PSNR on the latest sample (for the progress line; NaN if none)."""
    values = run.methods[name]["per_sample"].get("psnr")
    return values[-1] if values else float("nan")


# -- the report -----------------------------------------------------------------------------------


def _notes(run: _Run) -> list[str]:
    """Notes on the metrics some methods could not get (KLD)."""
    remosaics = [b for b in run.baselines if b in REMOSAIC_BASELINES]
    if not remosaics:
        return [
            "KLD and m4_no_lpips: no evaluated method has a full-resolution Bayer remosaic "
            f"output ({', '.join(REMOSAIC_BASELINES)} on Quad / Nona / QxQ data)"
        ]
    if not run.has_clean:
        return [
            f"KLD skipped for {', '.join(remosaics)}: the dataset stores no clean signal "
            "(generate it with --clean)"
        ]
    return []


def _report(run: _Run, limit, noise_bins: int, crop_size: int) -> EvaluationReport:
    """The :class:`EvaluationReport` of a finished run."""
    return EvaluationReport(
        dataset=run.dataset,
        split=run.split_name,
        pattern=run.pattern.name,
        scale=run.scale,
        samples=list(range(run.count)),
        noise_levels=run.levels,
        noise_bins=group_by_noise(run.levels, noise_bins),
        methods=run.methods,
        models=run.costs,
        notes=_notes(run),
        options={
            "baselines": run.baselines,
            "checkpoints": [model_source(m) for m in run.models.values()],
            "limit": limit,
            "noise_bins": int(noise_bins),
            "crop_size": int(crop_size),
            "white_balance": run.white_balance,
            "task": run.task,
        },
        crops=run.crops,
        charts={} if run.chart is None or run.task != "srgb" else run.chart.summary(),
    )
