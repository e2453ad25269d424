"""``cfasim sensors [show]``, ``calibrate`` and ``noise-check``: sensor profiles and noise."""

from __future__ import annotations

from pathlib import Path

import click

from cfasim.cli.group import PATH_OR_URL, main
from cfasim.errors import CalibrationError, DatasetError
from cfasim.store.generate_config import complete_sensor


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
@click.argument("name", shell_complete=complete_sensor)
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
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
    help="Photon-transfer plot (PNG; .pdf / .svg for a paper).",
)
@click.option("--name", default="calibrated", show_default=True, help="Profile name.")
@click.option("--pixel-pitch", type=float, help="Pixel pitch in um (not measurable here).")
@click.option("--qe", type=float, help="Quantum efficiency (not measurable here).")
def calibrate(flats, darks, out, plot, name, pixel_pitch, qe):
    """Fit a sensor profile from flat-field and dark RAW frames (photon-transfer analysis).

    Exposure times come from each file's EXIF ExposureTime, else from its name (_t0.01s,
    _10ms). Frames must come from one camera at one ISO (its base ISO for a profile whose
    full well is the charge capacity).
    """
    from cfasim.sensor.calibration import calibrate_files

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
@click.argument("path", type=PATH_OR_URL)
@click.option(
    "--split", default="train", show_default=True, help="Split to measure (it must store clean)."
)
@click.option(
    "--bins",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of clean-signal bins the noise variance is measured in.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N samples.")
def noise_check_command(path, split, bins, limit):
    """Measure a dataset's noise (stored raw vs stored clean) against the model's prediction."""
    from cfasim.data.reader import open_dataset
    from cfasim.sensor.noise_check import noise_check

    try:
        result = noise_check(open_dataset(path), split, bins=bins, limit=limit)
    except (ValueError, KeyError, DatasetError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.format())
