"""``cfasim generate``: the options, then a thin call into :mod:`cfasim.pipeline`."""

from __future__ import annotations

import os
from contextlib import contextmanager

import click
import cloup

from cfasim.cli.group import PATH_OR_URL, main
from cfasim.errors import CfasimError
from cfasim.progress import bars_wanted
from cfasim.store.fs import is_url
from cfasim.store.generate_config import content_option_groups
from cfasim.store.status import unfinished_message


def grouped_content_options(command):
    """The content options of :mod:`cfasim.store.generate_config` in their named help
    sections (:data:`~cfasim.store.generate_config.OPTION_GROUPS`)."""
    for title, options in reversed(content_option_groups()):
        command = cloup.option_group(title, *options)(command)
    return command


@main.command(cls=cloup.Command)
@cloup.option_group(
    "Output",
    click.option(
        "--out",
        required=True,
        type=PATH_OR_URL,
        help="Output dataset folder (e.g. nona.zarr) or fsspec URL (e.g. s3://bucket/nona.zarr).",
    ),
    click.option("--overwrite", is_flag=True, help="Replace an existing cfasim dataset at --out."),
    click.option(
        "--resume",
        is_flag=True,
        help="Continue an interrupted build of the same settings; complete shards are kept.",
    ),
)
@grouped_content_options
@cloup.option_group(
    "Execution",
    click.option(
        "--workers",
        default=os.cpu_count() or 1,
        show_default="number of CPUs",
        type=click.IntRange(min=1),
        help="Parallel Dask threads (the dataset is identical for any value).",
    ),
    click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on an existing dask.distributed cluster, e.g. tcp://HOST:8786.",
    ),
    click.option(
        "--processes",
        is_flag=True,
        help="Start a local cluster of --workers single-threaded processes instead of threads.",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Progress bar on stderr (default: only on a terminal, never with cfasim -q).",
    ),
)
def generate(out, workers, overwrite, resume, scheduler, processes, progress, **content):
    """Simulate RAW/sRGB training pairs and store them as a sharded Zarr v3 dataset."""
    from cfasim.pipeline import GenerateConfig, build, plan
    from cfasim.store.lock import build_lock
    from cfasim.store.output import check_output

    try:
        config = GenerateConfig(**content).validated()
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if scheduler and processes:
        raise click.UsageError("--scheduler and --processes exclude each other")
    if progress is None:  # on a terminal, unless cfasim -q
        progress = bars_wanted()
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
