"""One training recipe over several seeds (``cfasim train --seeds 0,1,2``): the spread a claim
about the recipe needs.

Each seed trains into ``OUT/seed-S`` (``train.seed = S``, everything else the same); the final
validation record of each run (the last ``val_psnr`` of its ``metrics.jsonl``) is gathered into
``OUT/seeds.json``: the per-seed PSNR / SSIM, their mean, sample standard deviation, range and
a Student-t 95 % interval of the mean over seeds, beside the classical reference on the same
validation samples. ``--resume`` skips the seeds whose ``model.pt`` exists and resumes the
others from their checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from cfasim.train.config import as_config


def final_validation(run: Path) -> dict:
    """The last validation record of ``run/metrics.jsonl`` (ValueError: none)."""
    path = Path(run) / "metrics.jsonl"
    last = None
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "val_psnr" in record:
                last = record
    if last is None:
        raise ValueError(f"{path} has no validation record (is train.val_every > steps?)")
    return last


def spread(values) -> dict:
    """Mean, sample standard deviation, range and Student-t 95 % interval of ``values``."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
    half = (
        float(stats.t.ppf(0.975, len(v) - 1) * sd / math.sqrt(len(v))) if len(v) > 1 else math.nan
    )
    mean = float(v.mean())
    ci = None if math.isnan(half) else [mean - half, mean + half]
    return {"mean": mean, "std": sd, "min": float(v.min()), "max": float(v.max()), "ci95": ci}


def run_seeds(cfg, seeds, resume: bool = False, log=None) -> dict:
    """Train ``cfg`` once per seed (see the module docstring); returns the summary written to
    ``OUT/seeds.json`` (``log``: a message callable, default the ``cfasim.train`` logger)."""
    from cfasim.train.schedule import run_training

    say = log or logging.getLogger("cfasim.train").info
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds needs distinct seeds, got {seeds}")
    base = asdict(as_config(cfg))
    out = Path(base["train"]["out"])
    runs = []
    for seed in seeds:
        run = out / f"seed-{seed}"
        c = json.loads(json.dumps(base))  # a deep copy of plain data
        c["train"]["seed"], c["train"]["out"] = seed, str(run)
        if resume and (run / "model.pt").exists():
            say(f"seed {seed}: finished earlier ({run / 'model.pt'})")
        else:
            say(f"seed {seed}: training into {run}")
            run_training(c, resume=resume and (run / "checkpoint.pt").exists(), log=log)
        runs.append((seed, final_validation(run)))
    summary = _summary(base, runs)
    tmp = out / ".seeds.json.tmp"  # written whole, then renamed: never a half file
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    tmp.replace(out / "seeds.json")
    p = summary["val_psnr"]
    ci = "" if p["ci95"] is None else f", 95 % CI {p['ci95'][0]:.2f} .. {p['ci95'][1]:.2f}"
    say(
        f"{len(seeds)} seeds: val PSNR {p['mean']:.2f} +- {p['std']:.2f} dB (sd; range "
        f"{p['min']:.2f} .. {p['max']:.2f}{ci}); reference {summary['reference_psnr']:.2f} dB; "
        f"wrote {out / 'seeds.json'}"
    )
    return summary


def _summary(base: dict, runs: list[tuple[int, dict]]) -> dict:
    out = Path(base["train"]["out"])
    psnr = [r["val_psnr"] for _, r in runs]
    ssim = [r.get("val_ssim", math.nan) for _, r in runs]
    return {
        "seeds": [s for s, _ in runs],
        "runs": [{"seed": s, "out": str(out / f"seed-{s}"), **r} for s, r in runs],
        "val_psnr": spread(psnr),
        "val_ssim": spread(ssim),
        "reference_psnr": float(np.mean([r.get("baseline_psnr", math.nan) for _, r in runs])),
        "interval": "Student-t 95 % interval of the mean over seeds (sample sd, n - 1 dof)",
    }
