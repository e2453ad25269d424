"""The goal table of evidence/linear_task.sh: per pattern, noise level and test set, the best
classical pipeline and each student seed against it (paired bootstrap 95 % interval).

    python evidence/summarize.py OUT [--cells camera]   # Markdown; also OUT/summary-*.md
"""

from pathlib import Path

from cfasim.eval.report import EvaluationReport

PATTERNS = ("bayer", "quad", "nona", "qxq")
LEVELS = ("none", "moderate", "high")
SETS = {"train": "dead leaves (test split)", "photos": "natural photos (held out)"}


def rows(out: Path, cells: str = "linear"):
    grid = [(p, lv) for p in PATTERNS for lv in LEVELS]
    if cells == "camera":
        grid = [("nona", "camera"), ("nona", "srgb")]
    for pattern, level in grid:
        for key, label in SETS.items():
            path = out / f"{pattern}-{level}" / f"eval-{key}" / "evaluation.json"
            if path.exists():
                yield pattern, level, label, EvaluationReport.from_json(path)


def cell(mean, ci):
    return f"{mean:.2f}" if ci is None else f"{mean:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def main(out: Path, cells: str = "linear") -> str:
    lines = [
        "| pattern | noise | test set (n) | best classical | its PSNR [95 % CI] | student seed | "
        "student PSNR [95 % CI] | student - best [95 % CI] | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for pattern, level, label, report in rows(out, cells):
        comp = report.comparisons()["all"]  # recomputed: the current statistics code
        means, cis = report.means(), report.intervals()
        best = comp["best_baseline"]
        base = cell(means[best]["all"]["psnr"], cis[best]["all"]["psnr"])
        n = len(report.samples)
        students = [m for m, v in report.methods.items() if v["kind"] == "model"]
        for name in students:
            d = comp["vs_best"][name]
            lines.append(
                f"| {pattern} | {level} | {label} ({n}) | {best} | {base} | {name} | "
                f"{cell(means[name]['all']['psnr'], cis[name]['all']['psnr'])} | "
                f"{cell(d['mean'], d['ci'])} | {d['verdict']} |"
            )
    text = "\n".join(lines) + "\n"
    (out / f"summary-{cells}.md").write_text(text)
    return text


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="evidence-out")
    ap.add_argument("--cells", choices=["linear", "camera"], default="linear")
    a = ap.parse_args()
    print(main(Path(a.out), a.cells))
