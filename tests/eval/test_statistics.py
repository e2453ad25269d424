"""Bootstrap intervals of evaluate: checked against scipy's bootstrap, a direct resampling loop
and the normal approximation on data whose answer is known."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from cfasim.eval.report import EvaluationReport
from cfasim.eval.statistics import RESAMPLES, mean_ci, paired_difference


def direct_bootstrap_ci(d, resamples, seed):
    """The percentile bootstrap written as a plain loop (an independent implementation)."""
    rng = np.random.default_rng(seed + 1000)  # other draws: agreement is up to Monte Carlo error
    means = [np.mean(rng.choice(d, size=len(d), replace=True)) for _ in range(resamples)]
    return np.percentile(means, [2.5, 97.5])


def test_mean_ci_matches_scipy_and_the_normal_approximation():
    x = np.random.default_rng(1).normal(20.0, 1.5, size=400)
    lo, hi = mean_ci(x)
    ref = stats.bootstrap((x,), np.mean, n_resamples=RESAMPLES, method="percentile",
                          random_state=np.random.default_rng(2)).confidence_interval  # fmt: skip
    se = x.std(ddof=1) / math.sqrt(len(x))  # 0.075 dB
    # Monte Carlo error of a 2.5 % quantile of 10,000 bootstrap means: ~0.03 se; allow 0.1 se
    assert lo == pytest.approx(ref.low, abs=0.1 * se) and hi == pytest.approx(
        ref.high, abs=0.1 * se
    )
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.1 * se)
    assert hi == pytest.approx(x.mean() + 1.96 * se, abs=0.1 * se)
    assert mean_ci(x) == (lo, hi)  # fixed seed: the same interval every time


@pytest.mark.parametrize(("shift", "verdict"), [(0.5, "higher"), (-0.5, "lower"), (0.0, None)])
def test_paired_difference_against_a_direct_bootstrap(shift, verdict):
    rng = np.random.default_rng(3)
    scene = rng.normal(20, 3, size=40)  # a large spread shared by both methods ...
    b = scene + rng.normal(0, 0.3, size=40)
    a = scene + shift + rng.normal(0, 0.3, size=40)  # ... cancels in the paired difference
    got = paired_difference(a, b)
    d = a - b
    lo, hi = direct_bootstrap_ci(d, 4000, 0)
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert got["mean"] == pytest.approx(d.mean(), rel=1e-12) and got["n"] == 40
    assert got["ci"][0] == pytest.approx(lo, abs=0.15 * se)
    assert got["ci"][1] == pytest.approx(hi, abs=0.15 * se)
    if verdict is not None:
        assert got["verdict"] == verdict
    else:  # no true difference: the interval covers 0 for this seed
        assert got["ci"][0] < 0 < got["ci"][1] and got["verdict"] == "not resolved"
    unpaired = mean_ci(a)[1] - mean_ci(a)[0]
    assert got["ci"][1] - got["ci"][0] < unpaired / 5  # pairing removes the scene spread


def test_one_sample_has_no_interval_and_mismatched_pairs_are_refused():
    assert all(math.isnan(v) for v in mean_ci([1.0] * 7))
    assert paired_difference([1.0, 2.0], [0.0, 0.0])["verdict"] == "too few samples"
    with pytest.raises(ValueError, match="differ in number"):
        paired_difference([1.0, 2.0], [1.0])


def report_with(values: dict[str, tuple[str, list[float]]]) -> EvaluationReport:
    n = len(next(iter(values.values()))[1])
    return EvaluationReport(
        dataset="known", split="test", pattern="nona:rggb", scale=1, samples=list(range(n)),
        noise_levels=[0.01] * n,
        noise_bins=[{"label": "sigma 0.01", "low": 0.01, "high": 0.01, "samples": list(range(n))}],
        methods={name: {"kind": kind, "source": name, "per_sample": {"psnr": v}}
                 for name, (kind, v) in values.items()},
    )  # fmt: skip


def test_the_report_names_the_best_baseline_and_the_paired_verdicts(tmp_path):
    rng = np.random.default_rng(4)
    scene = rng.normal(20, 2, size=30)
    report = report_with({
        "binning": ("baseline", list(scene + 1.0)),
        "tent": ("baseline", list(scene)),
        "student": ("model", list(scene + 1.8 + rng.normal(0, 0.2, size=30))),
        "tie": ("model", list(scene + 1.0 + rng.normal(0, 0.2, size=30))),
    })  # fmt: skip
    assert report.best_baseline() == "binning"
    vs = report.comparisons()["all"]["vs_best"]
    assert vs["student"]["verdict"] == "higher" and vs["student"]["mean"] == pytest.approx(
        np.mean(np.array(report.methods["student"]["per_sample"]["psnr"]) - scene - 1.0)
    )
    assert vs["tent"]["verdict"] == "lower" and vs["tent"]["mean"] == pytest.approx(-1.0)
    assert vs["tie"]["ci"][0] < 0 < vs["tie"]["ci"][1]

    md = report.to_markdown()
    assert "Best classical pipeline (mean PSNR): **binning**." in md
    assert "| student | +" in md and "| higher |" in md and "| not resolved |" in md
    doc = json.loads(json.dumps(report.to_dict()))
    lo, hi = doc["methods"]["student"]["ci95"]["all"]["psnr"]
    assert (lo, hi) == tuple(mean_ci(report.methods["student"]["per_sample"]["psnr"]))
    assert doc["statistics"]["comparisons"]["all"]["best_baseline"] == "binning"


def test_a_tie_goes_to_the_first_baseline():
    """Without noise nlm+menon equals menon: the simpler one, first in order, is named."""
    same = list(np.linspace(30, 31, 10))
    report = report_with({"menon": ("baseline", same), "nlm+menon": ("baseline", same)})
    assert report.best_baseline() == "menon"
