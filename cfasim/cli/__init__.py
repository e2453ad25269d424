"""Command-line interface: ``cfasim generate``, ``cfasim info``, ``cfasim patterns``."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from cfasim import DISTRIBUTION, __version__
from cfasim.errors import CfasimError
from cfasim.store.fs import is_url


def _splits(ctx, param, value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not three comma-separated numbers") from None
    if len(parts) != 3:
        raise click.BadParameter(f"expected train,val,test fractions, got {value!r}")
    return parts


class _PathOrURL(click.ParamType):
    """A local path (as a Path) or an fsspec URL such as s3://bucket/x.zarr (kept as text)."""

    name = "PATH|URL"

    def convert(self, value, param, ctx):
        if isinstance(value, Path) or is_url(value):
            return value
        return Path(value)


_PATH_OR_URL = _PathOrURL()


class _Commands(click.Group):
    """The command group: a :class:`~cfasim.errors.CfasimError` from any command is a user
    error, printed as one line (exit 1); anything else is a bug and keeps its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CfasimError as err:
            raise click.ClickException(str(err)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cfasim")
def main():
    """cfasim: simulated camera RAW for Bayer, Quad, Nona and QxQ colour filter arrays."""


@main.command()
@click.option(
    "--pattern",
    default=None,
    show_default="nona; bayer for --source-kind zurich",
    help="bayer | quad | nona | qxq [:rggb|grbg|gbrg|bggr], or tile text "
    "such as RRGG/RRGG/GGBB/GGBB.",
)
@click.option(
    "--source",
    default="builtin",
    show_default=True,
    help="'builtin' (dead-leaves scenes) or a folder of JPEG/PNG/TIFF images "
    "(8 or 16 bit, searched recursively).",
)
@click.option(
    "--count",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of samples over all splits.",
)
@click.option(
    "--patch",
    default=288,
    show_default=True,
    type=click.IntRange(min=1),
    help="RAW patch side in pixels; a multiple of the pattern period.",
)
@click.option(
    "--splits",
    default="0.8,0.1,0.1",
    show_default=True,
    callback=_splits,
    help="train,val,test fractions.",
)
@click.option(
    "--noise",
    default=None,
    show_default="brooks; none for real pairs",
    help="'brooks' (sampled per sample), 'none', or fixed 'shot=S,read=R'.",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--transfer",
    type=click.Choice(["srgb", "gamma2.2"]),
    default="srgb",
    show_default=True,
    help="Display transfer curve inverted by unprocessing.",
)
@click.option(
    "--bits",
    default=None,
    show_default="10, or the sensor's",
    type=click.IntRange(1, 16),
    help="ADC bit depth of the RAW.",
)
@click.option(
    "--black-level",
    default=None,
    show_default="64, or the sensor's",
    type=click.IntRange(min=0),
)
@click.option(
    "--sensor",
    metavar="NAME|PATH",
    help="Physics noise in electrons from a sensor profile (`cfasim sensors` lists them) "
    "instead of --noise: shot (Poisson), read, row, dark current, PRNU/DSNU, full well, ADC.",
)
@click.option(
    "--iso",
    type=click.FloatRange(min=0, min_open=True),
    help="ISO of --sensor (default: its base ISO); higher ISO = less light, more noise.",
)
@click.option(
    "--sensor-seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Identity of the simulated sensor: its fixed-pattern noise (PRNU/DSNU).",
)
@click.option(
    "--exposure-time",
    "exposure_time_s",
    type=click.FloatRange(min=0, min_open=True),
    help="Exposure time in seconds for dark current (default: the profile's).",
)
@click.option(
    "--optics",
    default="",
    help="Optics/pixel effects with --sensor, e.g. psf=1.2,shading=1500,crosstalk=0.02,blooming "
    "(docs/noise.md).",
)
@click.option(
    "--clean/--no-clean",
    default=False,
    show_default=True,
    help="Also store the noise-free linear camera RGB (float16).",
)
@click.option(
    "--out",
    required=True,
    type=_PATH_OR_URL,
    help="Output dataset folder (e.g. nona.zarr) or fsspec URL (e.g. s3://bucket/nona.zarr).",
)
@click.option(
    "--workers",
    default=os.cpu_count() or 1,
    show_default="number of CPUs",
    type=click.IntRange(min=1),
    help="Parallel Dask threads (the dataset is identical for any value).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing cfasim dataset at --out.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted build of the same settings; complete shards are kept.",
)
@click.option(
    "--source-kind",
    type=click.Choice(["images", "raw", "zurich", "pairs"]),
    default="images",
    show_default=True,
    help="'raw': --source holds Bayer RAW files (DNG, CR2, NEF, ARW, ...), re-mosaicked from "
    "their 2x2-binned linear signal; targets rendered by cfasim's ISP with each file's white "
    "balance and colour matrix. 'zurich': --source is a Zurich RAW-to-RGB folder "
    "(huawei_raw/*.png + canon/*.jpg), stored as captured. 'pairs': --source holds 16-bit "
    "mosaics (or RAW files) and --targets the images of the same names, stored as captured.",
)
@click.option(
    "--targets",
    type=click.Path(file_okay=False),
    help="Target image folder of --source-kind pairs (matched to --source by file name).",
)
@click.option(
    "--scale",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="Target side / RAW side: 2 renders DSLR-style targets at twice the RAW resolution.",
)
@click.option(
    "--shard-samples",
    type=click.IntRange(min=1),
    help="Samples per shard (default: about 4 MiB of RAW per shard).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on an existing dask.distributed cluster, e.g. tcp://HOST:8786.",
)
@click.option(
    "--processes",
    is_flag=True,
    help="Start a local cluster of --workers single-threaded processes instead of threads.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal)."
)
def generate(
    pattern,
    source,
    count,
    patch,
    splits,
    noise,
    seed,
    transfer,
    bits,
    black_level,
    sensor,
    iso,
    sensor_seed,
    exposure_time_s,
    optics,
    clean,
    out,
    workers,
    overwrite,
    resume,
    source_kind,
    targets,
    scale,
    shard_samples,
    scheduler,
    processes,
    progress,
):
    """Simulate RAW/sRGB training pairs and store them as a sharded Zarr v3 dataset."""
    from cfasim.pipeline.generate import GenerateConfig, build, plan
    from cfasim.store.lock import build_lock
    from cfasim.store.output import check_output

    try:
        config = GenerateConfig(
            pattern=pattern,
            source=source,
            count=count,
            patch=patch,
            splits=splits,
            noise=noise,
            seed=seed,
            transfer=transfer,
            bits=bits,
            black_level=black_level,
            clean=clean,
            shard_samples=shard_samples,
            scale=scale,
            source_kind=source_kind,
            targets=targets,
            sensor=sensor,
            iso=iso,
            sensor_seed=sensor_seed,
            exposure_time_s=exposure_time_s,
            optics=optics,
        ).validated()
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if scheduler and processes:
        raise click.UsageError("--scheduler and --processes exclude each other")
    with build_lock(out):  # a second build of --out refuses at once, naming this one
        check_output(out, overwrite, resume)  # before planning: refuse at once, delete nothing
        p = plan(config, workers=workers)
        _warn_skipped(p.skipped)
        try:
            with _dask_client(scheduler, processes, workers) as client:
                rendered = build(
                    p,
                    out,
                    workers=workers,
                    progress=progress,
                    resume=resume,
                    client=client,
                    overwrite=overwrite,
                )
        except KeyboardInterrupt:
            raise click.ClickException(f"interrupted; {_left_behind(out, overwrite)}") from None
        except (click.ClickException, CfasimError):
            raise
        except Exception as err:
            raise click.ClickException(
                f"generation failed: {err}\n{_left_behind(out, overwrite)}"
            ) from err
    counts = ", ".join(f"{s.name} {s.count}" for s in p.splits)
    note = "" if not resume else f" ({rendered} shard(s) rendered by this run)"
    click.echo(
        f"wrote {out}: {p.pattern.name}, {counts} samples of {config.patch}x{config.patch}{note}"
    )


def _left_behind(out, overwrite: bool) -> str:
    """What a failed or interrupted build leaves, and how to continue it."""
    from cfasim.store.schema import unfinished_message

    kept = " (the old dataset is kept until the new one is complete)"
    return unfinished_message(out, "building") + (kept if overwrite and not is_url(out) else "")


def _warn_skipped(skipped) -> None:
    if skipped:
        click.echo(f"warning: skipped {len(skipped)} source file(s):", err=True)
        for path, reason in skipped[:10]:
            click.echo(f"  {path}: {reason}", err=True)
        if len(skipped) > 10:
            click.echo(f"  ... and {len(skipped) - 10} more", err=True)


@contextmanager
def _dask_client(scheduler: str | None, processes: bool, workers: int):
    """A dask.distributed client for --scheduler / --processes, else None (local threads)."""
    if not scheduler and not processes:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as err:
            raise click.ClickException(
                f"cannot reach the Dask scheduler {scheduler}: {err}"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@main.command()
@click.argument("path", type=_PATH_OR_URL)
def info(path):
    """Print pattern, splits, shapes, noise and sizes on disk of a dataset."""
    from cfasim.store.schema import DatasetError, describe

    try:
        click.echo(describe(path))
    except DatasetError as err:
        raise click.ClickException(str(err)) from None


@main.command()
@click.argument("path", type=_PATH_OR_URL)
@click.option("--no-decode", is_flag=True, help="Skip decoding every shard (faster).")
def validate(path, no_decode):
    """Check a dataset: format, every shard present and readable, checksums, metadata."""
    from cfasim.store.checksums import validate as run_validation

    report = run_validation(path, decode=not no_decode)
    click.echo(report.format())
    if not report.ok:
        sys.exit(1)


@main.group(invoke_without_command=True)
@click.pass_context
def sensors(ctx):
    """List the built-in sensor profiles (`cfasim sensors show NAME|PATH` for one)."""
    if ctx.invoked_subcommand is not None:
        return
    from cfasim.sensor.profile import builtin_profiles, load_profile

    click.echo(
        f"{'name':<22} {'pitch um':>8} {'full well e-':>12} {'read e-':>7} {'ADC':>6} "
        f"{'base ISO':>8}  description"
    )
    for name in builtin_profiles():
        p = load_profile(name)
        click.echo(
            f"{name:<22} {p.pixel_pitch_um:>8.2f} {p.full_well_e:>12.0f} {p.read_noise_e:>7.2f} "
            f"{p.bits:>4}-b {p.base_iso:>8.0f}  {p.description}"
        )


@sensors.command("show")
@click.argument("name")
@click.option("--iso", "isos", multiple=True, type=float, help="ISO(s) to tabulate.")
def sensors_show(name, isos):
    """One profile: every parameter with its source, and what it means at a few ISOs."""
    from cfasim.sensor.physics import predicted_variance_dn
    from cfasim.sensor.profile import load_profile

    try:
        p = load_profile(name)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{p.name}: {p.description}")
    for key, value in p.to_dict().items():
        if key in ("name", "description", "notes"):
            continue
        note = p.notes.get(key, "")
        click.echo(f"  {key:<26} {value!s:<12} {note}")
    click.echo(
        f"  derived: {p.electrons_per_lux_second:.0f} e-/(lux s), base ISO {p.base_iso:.1f}, "
        f"K at base ISO {p.conversion_gain(p.base_iso):.4f} DN/e-"
    )
    click.echo(
        f"  {'ISO':>8} {'gain':>6} {'K DN/e-':>8} {'e- at white':>11} {'SNR at 18% grey':>16}"
    )
    for iso in isos or [p.base_iso * f for f in (1, 4, 16, 64)]:
        try:
            gain = p.analog_gain(iso)
        except ValueError as err:
            raise click.ClickException(str(err)) from None
        signal = 0.18 * p.dn_range
        snr = signal / float(predicted_variance_dn(0.18, p, iso)) ** 0.5
        click.echo(
            f"  {iso:>8.0f} {gain:>6.2f} {p.conversion_gain(iso):>8.4f} "
            f"{p.electrons_at_white(iso):>11.0f} {snr:>16.1f}"
        )


def _raw_files(paths: tuple[Path, ...], what: str) -> list[Path]:
    """RAW files from file and folder arguments (folders: their RAW files, searched
    recursively, hidden ones ignored)."""
    from cfasim.source.images import find_files
    from cfasim.source.raw import RAW_SUFFIXES

    files = []
    for path in paths:
        if path.is_dir():
            found = [path / rel for rel in find_files(path, RAW_SUFFIXES)[0]]
            if not found:
                raise click.UsageError(f"no RAW files ({', '.join(RAW_SUFFIXES)}) in {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise click.UsageError(f"{what} {path} does not exist")
    return files


@main.command()
@click.option(
    "--flats",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Flat-field RAW files or folders: >= 2 frames at each of several exposure times.",
)
@click.option(
    "--darks",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Dark RAW files or folders (lens cap): >= 2 frames at >= 2 exposure times.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Profile TOML.")
@click.option("--plot", type=click.Path(path_type=Path), help="Photon-transfer plot (PNG).")
@click.option("--name", default="calibrated", show_default=True, help="Profile name.")
@click.option("--pixel-pitch", type=float, help="Pixel pitch in um (not measurable here).")
@click.option("--qe", type=float, help="Quantum efficiency (not measurable here).")
def calibrate(flats, darks, out, plot, name, pixel_pitch, qe):
    """Fit a sensor profile from flat-field and dark RAW frames (photon-transfer analysis).

    Exposure times come from each file's EXIF ExposureTime, else from its name (_t0.01s,
    _10ms). Frames must come from one camera at one ISO (its base ISO for a profile whose
    full well is the charge capacity).
    """
    from cfasim.sensor.calibrate import CalibrationError, calibrate_files

    for option, path in (("--out", out), ("--plot", plot)):
        if path is not None and not path.absolute().parent.is_dir():  # before the long fit
            raise click.UsageError(f"{option} {path}: the folder {path.parent} does not exist")
    flat_files, dark_files = _raw_files(flats, "flat"), _raw_files(darks, "dark")
    try:
        cal = calibrate_files(
            flat_files, dark_files, name=name, pixel_pitch_um=pixel_pitch, quantum_efficiency=qe
        )
        profile = cal.profile()
    except (CalibrationError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    out.write_text(profile.to_toml())
    click.echo(cal.summary())
    click.echo(f"wrote {out}")
    if plot:
        click.echo(f"wrote {cal.plot(plot)}")


@main.command("noise-check")
@click.argument("path", type=_PATH_OR_URL)
@click.option("--split", default="train", show_default=True)
@click.option("--bins", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N samples.")
def noise_check_command(path, split, bins, limit):
    """Measure a dataset's noise (stored raw vs stored clean) against the model's prediction."""
    from cfasim.sensor.noise_check import noise_check
    from cfasim.store.schema import DatasetError

    try:
        result = noise_check(path, split, bins=bins, limit=limit)
    except (ValueError, KeyError, DatasetError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.format())


@main.command()
@click.argument("dataset", type=_PATH_OR_URL)
@click.option("--split", default="test", show_default=True)
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    metavar="[LABEL=]PATH",
    help="A trained model checkpoint (repeatable; needs PyTorch).",
)
@click.option(
    "--baselines",
    default="all",
    show_default=True,
    help="Comma-separated classical baselines (bilinear, malvar, menon, tent, binning, "
    "remosaic_malvar), 'all' applicable to the pattern, or 'none'.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N samples.")
@click.option("--noise-bins", default=3, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--out",
    "out_dir",
    default="evaluation",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for evaluation.md, evaluation.json and evaluation.png.",
)
@click.option("--crops", default=3, show_default=True, type=click.IntRange(min=0))
@click.option("--crop-size", default=64, show_default=True, type=click.IntRange(min=8))
@click.option(
    "--white-balance/--no-white-balance",
    default=True,
    show_default=True,
    help="Baselines demosaic the white-balanced mosaic (as raw converters do), then unbalance.",
)
def evaluate(
    dataset,
    split,
    checkpoints,
    baselines,
    limit,
    noise_bins,
    out_dir,
    crops,
    crop_size,
    white_balance,
):
    """Score classical baselines and trained models on a dataset: PSNR, SSIM, MS-SSIM,
    CIEDE2000, KLD/M4 for remosaics, model costs; writes a table, JSON and a figure."""
    from cfasim.eval.engine import evaluate as run_evaluation
    from cfasim.store.schema import DatasetError

    if checkpoints:
        _require_torch("evaluate --checkpoint")
    chosen = [] if baselines.strip().lower() == "none" else baselines
    try:
        report = run_evaluation(
            dataset,
            split=split,
            baselines=chosen,
            checkpoints=checkpoints,
            limit=limit,
            noise_bins=noise_bins,
            crop_size=crop_size,
            figure_crops=crops,
            white_balance=white_balance,
            log=lambda m: click.echo(m, err=True),
        )
    except (ValueError, KeyError, FileNotFoundError, DatasetError) as err:
        raise click.ClickException(str(err)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    table = report.to_markdown()
    (out_dir / "evaluation.md").write_text(table)
    report.to_json(out_dir / "evaluation.json")
    click.echo(table)
    written = [out_dir / "evaluation.md", out_dir / "evaluation.json"]
    if crops:
        written.append(report.figure(out_dir / "evaluation.png"))
    click.echo("wrote " + ", ".join(str(p) for p in written))


@main.command("export-dng")
@click.argument("dataset_path", metavar="DATASET", type=click.Path(path_type=Path))
@click.argument("out_dir", metavar="OUTDIR", type=click.Path(path_type=Path))
@click.option("--split", default="test", show_default=True)
@click.option("--indices", default=":", show_default=True, help="Python slice, e.g. 0:10 or 3.")
@click.option("--overwrite", is_flag=True, help="Replace DNG files of the same names in OUTDIR.")
def export_dng_command(dataset_path, out_dir, split, indices, overwrite):
    """Write samples of a dataset as DNG files (CFA pattern, levels, colour matrix, neutral)."""
    from cfasim.data.dng import export_dng

    paths = export_dng(dataset_path, split, indices, out_dir, overwrite=overwrite)
    click.echo(f"wrote {len(paths)} DNG file(s) to {out_dir}")


def _require_torch(command: str):
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException(
            f"cfasim {command} needs PyTorch: pip install '{DISTRIBUTION}[train]' (on a CPU-only "
            "machine first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from None


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config: a path, or the name of a shipped config (lwisp_nona_tiny, ...; "
    "`cfasim train --list-configs`).",
)
@click.option("--dataset", help="cfasim dataset (overrides data.dataset).")
@click.option("--teacher", help="Teacher checkpoint for distillation (overrides distill.teacher).")
@click.option(
    "--distill",
    type=click.Choice(["none", "output", "progressive", "heterogeneous"]),
    help="Distillation mode (overrides distill.mode).",
)
@click.option("--out", help="Run folder (overrides train.out).")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps (train.steps).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed (train.seed).")
@click.option("--device", help="auto | cpu | cuda (train.device).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision (bf16 on CPU, fp16 on GPU).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt exactly.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override any config value, e.g. --set data.crop=96 (repeatable).",
)
def train(config_path, dataset, teacher, distill, out, steps, seed, device, amp, resume, overrides):
    """Train a model (teacher or student, with optional distillation) on a cfasim dataset.

    Runs on CPU, one GPU, or several processes under torchrun (DDP).
    """
    _require_torch("train")
    from cfasim.train.config import load_config
    from cfasim.train.trainer import train as run_training

    try:
        cfg = load_config(
            config_path,
            overrides,
            data__dataset=dataset,
            distill__teacher=teacher,
            distill__mode=distill,
            train__out=out,
            train__steps=steps,
            train__seed=seed,
            train__device=device,
            train__amp=amp,
        )
        run_training(cfg, resume=resume, log=click.echo)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None


@main.command("process-raw")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--split", default="test", show_default=True, help="Split of a dataset INPUT.")
@click.option(
    "--index",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Sample of a dataset INPUT.",
)
@click.option(
    "--out",
    "out_png",
    type=click.Path(path_type=Path),
    help="Output PNG (default: INPUT's name, with the split and index for a dataset).",
)
def process_raw_command(checkpoint, input_path, split, index, out_png):
    """Run a trained model on a dataset sample or a Bayer RAW file; write a PNG."""
    _require_torch("process-raw")
    import imagecodecs

    from cfasim.train.export import load_raw_input, process_raw

    if out_png is not None and not out_png.parent.is_dir():  # refuse before running the model
        raise click.ClickException(f"--out {out_png}: the folder {out_png.parent} does not exist")
    try:
        raw = load_raw_input(checkpoint, input_path, split, index)
        rgb = process_raw(checkpoint, raw)
    except (ValueError, FileNotFoundError, KeyError, IndexError) as err:
        raise click.ClickException(str(err)) from None
    if out_png is None:
        if input_path.is_dir():
            out_png = Path(f"{input_path.name.removesuffix('.zarr')}-{split}-{index}.png")
        else:
            out_png = Path(f"{input_path.stem}.png")
    try:
        out_png.write_bytes(imagecodecs.png_encode(rgb))
    except OSError as err:  # a folder of that name, no permission, disk full
        raise click.ClickException(f"cannot write {out_png}: {err.strerror or err}") from None
    click.echo(f"wrote {out_png} ({rgb.shape[1]}x{rgb.shape[0]})")


@main.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["torchscript", "onnx"]),
    default="torchscript",
    show_default=True,
)
@click.option("--side", default=96, show_default=True, help="Example mosaic side for tracing.")
def export_command(checkpoint, out_dir, fmt, side):
    """Export a trained model (with its CFA adapter) to TorchScript or ONNX."""
    _require_torch("export")
    from cfasim.train.export import export_model

    try:
        path = export_model(checkpoint, out_dir, fmt, side)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {path}")


@main.command()
def patterns():
    """List the built-in CFA patterns."""
    from cfasim.cfa import BLOCK_SIZES, PHASES, CFAPattern

    for name, b in BLOCK_SIZES.items():
        p = CFAPattern.block_bayer(b)
        click.echo(
            f"{name:<6} {2 * b}x{2 * b} tile, {b}x{b} blocks, phases {', '.join(PHASES)}: "
            f"{p.to_dict()['tile_text']}"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
