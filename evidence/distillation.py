"""The table of evidence/distillation.sh: every arm's test PSNR per seed, its training compute
(teacher counted) and its paired difference from the equal-compute undistilled student.

    python evidence/distillation.py OUT        # Markdown; also OUT/summary.md

Across seeds: the mean of the per-seed differences with a Student-t 95 % interval (the seed is
the unit: each seed has its own teacher, students and crops); within a seed: the per-sample
paired bootstrap of cfasim evaluate (how many seeds resolve the difference on their own).
"""

import json
from pathlib import Path

import numpy as np

from cfasim.eval.report import EvaluationReport
from cfasim.eval.statistics import paired_difference
from cfasim.train.seeds import spread

ARMS = {
    "none": "none, equal total compute",
    "none-short": "none, the distilled students' steps",
    "hetero": "heterogeneous (output 0.5 + features 0.5)",
    "output": "output only (0.5)",
    "feature": "features only (0.5)",
}
CONTROL = "none"


def compute(run: Path) -> tuple[int, float]:
    """(steps, training TFLOP) of a run from its metrics.jsonl."""
    records = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    per_step = next(r["train_flops_per_step"] for r in records if "train_flops_per_step" in r)
    steps = max(r["step"] for r in records)
    return steps, per_step * steps / 1e12


def seeds(out: Path):
    for run in sorted(out.glob("seed-*"), key=lambda p: int(p.name.split("-")[1])):
        path = run / "eval" / "evaluation.json"
        if path.exists():
            yield run, EvaluationReport.from_json(path)


def interval(values) -> str:
    s = spread(values)
    ci = "" if s["ci95"] is None else f" [{s['ci95'][0]:+.2f}, {s['ci95'][1]:+.2f}]"
    return f"{s['mean']:+.2f}{ci}"


def main(out: Path) -> str:
    runs = list(seeds(out))
    if not runs:
        raise SystemExit(f"{out}: no finished seed (seed-*/eval/evaluation.json)")
    psnr = {a: [] for a in ARMS}
    resolved = {a: [0, 0] for a in ARMS}  # seeds where the arm is resolved higher / lower
    cost = {a: [] for a in ARMS}
    for run, report in runs:
        per = {a: report.methods[a]["per_sample"]["psnr"] for a in ARMS}
        teacher = compute(run / "teacher")[1]
        for a in ARMS:
            psnr[a].append(float(np.mean(per[a])))
            steps, tflop = compute(run / a)
            cost[a].append((steps, tflop + (0.0 if a.startswith("none") else teacher)))
            verdict = paired_difference(per[a], per[CONTROL])["verdict"]
            resolved[a][0] += verdict == "higher"
            resolved[a][1] += verdict == "lower"
    n = len(runs)
    classical = np.mean([r.methods["remosaic_ed_menon"]["per_sample"]["psnr"] for _, r in runs])
    lines = [
        f"{n} seeds ({', '.join(r.name for r, _ in runs)}), test split of "
        f"{len(runs[0][1].samples)} samples; classical reference remosaic_ed_menon "
        f"{classical:.2f} dB",
        "",
        "| student | steps | training TFLOP (teacher counted) | test PSNR per seed (dB) | "
        "mean | - none at equal compute [t 95 % CI] | seeds resolved higher / lower |",
        "|---|---|---|---|---|---|---|",
    ]
    for a, label in ARMS.items():
        steps = sorted({s for s, _ in cost[a]})
        tflop = np.mean([t for _, t in cost[a]])
        diff = "" if a == CONTROL else interval(np.subtract(psnr[a], psnr[CONTROL]))
        res = "" if a == CONTROL else f"{resolved[a][0]} / {resolved[a][1]}"
        lines.append(
            f"| {label} | {', '.join(map(str, steps))} | {tflop:.2f} | "
            f"{' / '.join(f'{v:.2f}' for v in psnr[a])} | {np.mean(psnr[a]):.2f} | {diff} | {res} |"
        )
    short = np.subtract(psnr["hetero"], psnr["none-short"])
    lines += ["", f"heterogeneous - none at the same student steps: {interval(short)} dB"]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="distill-out")
    print(main(Path(ap.parse_args().out)))
