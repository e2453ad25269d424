"""Sensor profiles: an image sensor described in physical units, loadable from TOML.

A profile fixes what a camera engineer reads off a datasheet or a photon-transfer measurement:
pixel pitch, quantum efficiency, full-well capacity, read noise, row noise, dark current, PRNU,
DSNU, ADC bit depth, black and white levels. Everything the noise model needs at a given ISO is
derived from these numbers (see ``docs/noise.md``):

- photo-electrons per lux-second per pixel: ``eta = QE * pitch^2 * PHOTONS_PER_LUX_S_UM2``;
- base ISO (ISO 12232 saturation speed, ``S = 78 / H_sat``): the ISO whose exposure fills the
  full well at white, ``base_iso = 78 * eta / full_well_e``;
- analog gain at ISO S: ``g = S / base_iso`` (>= 1);
- conversion gain at ISO S: ``K = g * (white - black) / full_well_e`` DN per electron, so the
  full well maps to the full DN range at base ISO;
- electrons at the white level at ISO S: ``e_white = full_well_e / g`` (= ``78 * eta / S``):
  a higher ISO means less light, hence fewer electrons and more shot noise per pixel; a smaller
  pixel collects fewer electrons from the same scene.

Profiles ship in ``cfasim/sensors/*.toml``; every number carries its source or reasoning in the
``[notes]`` table (``cfasim sensors show NAME`` prints them). The generic phone profiles follow
first-order pitch rules (:data:`FULL_WELL_DENSITY_BSI_E_PER_UM2`: full well ~ pitch^2;
:data:`READ_NOISE_E_PER_UM`: read noise ~ pitch; :func:`scale_to_pitch`), so at one ISO a
smaller pixel collects fewer electrons and is noisier relative to its signal.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

PHOTONS_PER_LUX_S_UM2 = 4.09e3
"""Photons per square micrometre per lux-second at 555 nm: 1 lx = 1/683 W/m^2, a 555 nm photon
carries 3.58e-19 J, so 1 lx*s = 4.09e15 photons/m^2 = 4.09e3 photons/um^2. Broadband light gives
a different number; the profile's quantum efficiency is an effective one that absorbs this."""

ISO_SATURATION_CONSTANT = 78.0
"""ISO 12232 saturation-based speed: S_sat = 78 / H_sat with H_sat in lux-seconds."""

FULL_WELL_DENSITY_BSI_E_PER_UM2 = 3300.0
"""Full-well capacity per square micrometre of a modern BSI phone pixel (estimate): Sony IMX363
holds 6000 e- at 1.4 um (3061 e-/um^2, ISETCam's model); deep-trench-isolated pixels of later
generations store somewhat more. Full well scales with photodiode area, i.e. with pitch^2."""

READ_NOISE_E_PER_UM = 5.0 / 1.4
"""Input-referred read noise per micrometre of pitch (estimate anchored on IMX363's 5 e- at
1.4 um). Reasoning: read noise in electrons is the source-follower noise voltage divided by the
conversion gain q / C_FD; with a fixed voltage swing C_FD scales with the full well (pitch^2),
and the follower's noise voltage with 1 / sqrt(gate area) (1 / pitch), so it scales with pitch:
smaller pixels read with fewer electrons of noise, but collect pitch^2 fewer photo-electrons."""

READ_NOISE_DISTRIBUTIONS = ("gaussian", "tukey")
BINNING_MODES = ("none", "charge", "digital")

_PHYSICAL_FIELDS = (
    "pixel_pitch_um",
    "quantum_efficiency",
    "full_well_e",
    "bits",
    "black_level_dn",
    "white_level_dn",
    "read_noise_e",
    "read_noise_distribution",
    "tukey_lambda",
    "adc_noise_dn",
    "row_noise_e",
    "dark_current_e_per_s",
    "exposure_time_s",
    "prnu",
    "dsnu_e",
)
_INTEGER_FIELDS = ("bits", "black_level_dn", "white_level_dn")


@dataclass(frozen=True)
class SensorProfile:
    """One image sensor in physical units (all noise standard deviations, not variances).

    Attributes
    ----------
    name, description : identification.
    pixel_pitch_um : pixel pitch in micrometres.
    quantum_efficiency : effective electrons per photon (0..1], CFA transmission included.
    full_well_e : full-well capacity in electrons (charge clips here; blooming spills from here).
    bits, black_level_dn, white_level_dn : ADC bit depth, black level and white (clip) level.
    read_noise_e : pre-amplifier read noise in electrons (scales with analog gain in DN).
    read_noise_distribution : ``gaussian`` or ``tukey`` (Tukey-lambda, long tails; Wei et al.).
    tukey_lambda : shape of the Tukey-lambda read noise (0.14 ~ Gaussian, 0 = logistic, < 0
        heavier tails); the distribution is scaled so its standard deviation is read_noise_e.
    adc_noise_dn : post-amplifier (ADC, source-follower after gain) noise in DN, ISO-independent.
    row_noise_e : standard deviation of the offset shared by all pixels of a row (banding), e-.
    dark_current_e_per_s : mean dark electrons per second (Poisson, added to the signal).
    exposure_time_s : default exposure time (only dark current depends on it).
    prnu : photo-response non-uniformity, the relative std of a per-pixel gain (0.01 = 1 %).
    dsnu_e : dark-signal non-uniformity, the std of a per-pixel offset in electrons.
    notes : source or reasoning of each number, keyed by attribute name.
    """

    name: str
    description: str
    pixel_pitch_um: float
    quantum_efficiency: float
    full_well_e: float
    bits: int
    black_level_dn: int
    white_level_dn: int
    read_noise_e: float
    adc_noise_dn: float = 0.0
    read_noise_distribution: str = "gaussian"
    tukey_lambda: float = 0.14
    row_noise_e: float = 0.0
    dark_current_e_per_s: float = 0.0
    exposure_time_s: float = 0.01
    prnu: float = 0.0
    dsnu_e: float = 0.0
    notes: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        def need(ok, what):
            if not ok:
                raise ValueError(f"sensor profile {self.name!r}: {what}")

        for name in _PHYSICAL_FIELDS:
            value = getattr(self, name)
            if name == "read_noise_distribution":
                need(isinstance(value, str), f"{name} must be a string, got {value!r}")
                continue
            is_bool = isinstance(value, bool | np.bool_)
            if name in _INTEGER_FIELDS:
                ok = isinstance(value, numbers.Integral) and not is_bool
                need(ok, f"{name} must be an integer, got {value!r}")
                object.__setattr__(self, name, int(value))
            else:
                ok = isinstance(value, numbers.Real) and not is_bool
                need(ok, f"{name} must be a number, got {value!r}")
                need(math.isfinite(value), f"{name} must be finite, got {value!r}")
                # plain Python floats: NumPy float32 scalars would make the derived
                # quantities float32 (base ISO, gain) and the TOML/JSON text odd
                object.__setattr__(self, name, float(value))
        need(self.pixel_pitch_um > 0, f"pixel_pitch_um must be > 0, got {self.pixel_pitch_um}")
        need(
            0 < self.quantum_efficiency <= 1,
            f"quantum_efficiency must be in (0, 1], got {self.quantum_efficiency}",
        )
        need(self.full_well_e > 0, f"full_well_e must be > 0, got {self.full_well_e}")
        need(1 <= self.bits <= 16, f"bits must be in 1..16, got {self.bits}")
        need(
            0 <= self.black_level_dn < self.white_level_dn <= (1 << self.bits) - 1,
            f"need 0 <= black_level_dn ({self.black_level_dn}) < white_level_dn "
            f"({self.white_level_dn}) <= {(1 << self.bits) - 1}",
        )
        for name in (
            "read_noise_e",
            "adc_noise_dn",
            "row_noise_e",
            "dark_current_e_per_s",
            "prnu",
            "dsnu_e",
        ):
            need(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        need(self.exposure_time_s > 0, f"exposure_time_s must be > 0, got {self.exposure_time_s}")
        need(
            self.read_noise_distribution in READ_NOISE_DISTRIBUTIONS,
            f"read_noise_distribution must be one of {READ_NOISE_DISTRIBUTIONS}, "
            f"got {self.read_noise_distribution!r}",
        )
        need(
            -0.5 < self.tukey_lambda <= 1.0,
            f"tukey_lambda must be in (-0.5, 1] (finite variance), got {self.tukey_lambda}",
        )

    # --- derived quantities -------------------------------------------------------------
    @property
    def electrons_per_lux_second(self) -> float:
        """Mean photo-electrons per pixel per lux-second of exposure (555 nm equivalent)."""
        return self.quantum_efficiency * self.pixel_pitch_um**2 * PHOTONS_PER_LUX_S_UM2

    @property
    def base_iso(self) -> float:
        """ISO at analog gain 1: the saturation-based speed whose exposure fills the full well."""
        return ISO_SATURATION_CONSTANT * self.electrons_per_lux_second / self.full_well_e

    @property
    def dn_range(self) -> int:
        return self.white_level_dn - self.black_level_dn

    def analog_gain(self, iso: float) -> float:
        """Analog gain at ``iso`` (1 at base ISO); ISOs below base ISO are refused."""
        if not math.isfinite(iso) or iso <= 0:
            raise ValueError(f"ISO must be a positive number, got {iso}")
        gain = iso / self.base_iso
        if gain < 1.0 - 1e-9:
            raise ValueError(
                f"ISO {iso:g} is below the base ISO {self.base_iso:.1f} of sensor {self.name!r}"
            )
        return max(gain, 1.0)

    def conversion_gain(self, iso: float) -> float:
        """K in DN per electron at ``iso``."""
        return self.analog_gain(iso) * self.dn_range / self.full_well_e

    def electrons_at_white(self, iso: float) -> float:
        """Mean electrons of a pixel whose clean linear value is 1 (the white level) at ``iso``."""
        return self.full_well_e / self.analog_gain(iso)

    # --- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "notes"}
        d["notes"] = dict(self.notes)
        return d

    @classmethod
    def from_dict(cls, data: dict, *, origin: str = "profile") -> SensorProfile:
        data = dict(data)
        sensor = data.pop("sensor", None)
        if sensor is not None:  # TOML layout: [sensor] table + [notes] table
            if not isinstance(sensor, dict):
                raise ValueError(f"{origin}: 'sensor' must be a table, got {sensor!r}")
            clash = sorted(set(sensor) & set(data))
            if clash:
                raise ValueError(f"{origin}: keys {clash} both inside and outside [sensor]")
            data = {**sensor, **data}
        if not isinstance(data.get("notes", {}), dict):
            raise ValueError(f"{origin}: 'notes' must be a table of strings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{origin}: unknown sensor profile keys {unknown}")
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in data
        ]
        if missing:
            raise ValueError(f"{origin}: missing sensor profile keys {missing}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"{origin}: {exc}") from None

    def to_toml(self) -> str:
        """TOML text of this profile (a ``[sensor]`` table and a ``[notes]`` table)."""
        lines = ["[sensor]"]
        for key, value in self.to_dict().items():
            if key == "notes":
                continue
            lines.append(f"{key} = {_toml_value(value)}")
        lines += ["", "[notes]"]
        for key, value in self.notes.items():
            lines.append(f"{key} = {_toml_value(str(value))}")
        return "\n".join(lines) + "\n"


def scale_to_pitch(
    profile: SensorProfile, pitch_um: float, *, name: str | None = None
) -> SensorProfile:
    """The same pixel technology at another pitch (a first-order model, see the module notes):
    full well and dark current scale with the pixel area (pitch^2), read and row noise with the
    pitch (:data:`READ_NOISE_E_PER_UM`); QE, PRNU, DSNU, ADC, levels and the base ISO are kept."""
    if not pitch_um > 0:
        raise ValueError(f"pixel pitch must be > 0 um, got {pitch_um}")
    r = pitch_um / profile.pixel_pitch_um
    origin = f"scaled from {profile.name} ({profile.pixel_pitch_um:g} um)"
    notes = dict(profile.notes)
    notes.update(
        pixel_pitch_um=origin,
        full_well_e=f"{origin}: x (pitch ratio)^2",
        dark_current_e_per_s=f"{origin}: x (pitch ratio)^2",
        read_noise_e=f"{origin}: x pitch ratio",
        row_noise_e=f"{origin}: x pitch ratio",
    )
    return dataclasses.replace(
        profile,
        name=name or f"{profile.name}@{pitch_um:g}um",
        pixel_pitch_um=float(pitch_um),
        full_well_e=profile.full_well_e * r * r,
        dark_current_e_per_s=profile.dark_current_e_per_s * r * r,
        read_noise_e=profile.read_noise_e * r,
        row_noise_e=profile.row_noise_e * r,
        notes=notes,
    )


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with cfasim."""
    folder = resources.files("cfasim.sensor") / "profiles"
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path) -> SensorProfile:
    """A built-in profile by name, or a TOML file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if text_name in builtin_profiles():
        resource = resources.files("cfasim.sensor") / "profiles" / f"{text_name}.toml"
        return SensorProfile.from_dict(tomllib.loads(resource.read_text()), origin=text_name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ValueError(f"sensor profile file {path} does not exist")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
        return SensorProfile.from_dict(data, origin=str(path))
    raise ValueError(
        f"unknown sensor {text_name!r}; built-in profiles: {', '.join(builtin_profiles())} "
        "(or give the path of a .toml profile)"
    )
