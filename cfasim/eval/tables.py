"""An evaluation's means with their 95 % intervals as tables for a paper: CSV and LaTeX.

The Markdown of :meth:`cfasim.eval.report.EvaluationReport.to_markdown` is for reading; these
are for reusing. Both hold one row per (noise group, method) with every metric the report has,
each as its mean and its percentile-bootstrap 95 % interval
(:func:`cfasim.eval.statistics.mean_ci`; empty in CSV and omitted in LaTeX for groups of fewer
than :data:`cfasim.eval.statistics.MIN_SAMPLES` samples). The bootstrap interval is not
symmetric, so it is written as ``[low, high]``, never as ``mean +- half-width``.

LaTeX uses ``booktabs`` rules (``\\usepackage{booktabs}``); the best value of each metric in a
group is bold, with the direction of each metric in :data:`HIGHER_IS_BETTER`.
"""

from __future__ import annotations

import csv
import io
import math

from cfasim.eval.report import METRIC_FORMATS, METRIC_LABELS, METRICS, EvaluationReport

HIGHER_IS_BETTER = {
    "psnr": True,
    "ssim": True,
    "ms_ssim": True,
    "ciede2000": False,
    "vgg": False,
    "lpips": False,
    "kld": False,
    "m4": True,
    "m4_no_lpips": True,
    "chart_de00": False,
    "mtf50": True,
}
"""Whether a larger value of each metric is better (the bold cell of a LaTeX table)."""


def report_metrics(report: EvaluationReport) -> list[str]:
    """The metrics some method of ``report`` has, in report order."""
    have = {k for m in report.methods.values() for k in m["per_sample"]}
    return [k for k in METRICS if k in have]


def table_rows(report: EvaluationReport) -> list[dict]:
    """One dict per (noise group, method): ``group``, ``n`` (samples), ``method``, ``kind``,
    then ``METRIC``, ``METRIC_ci_low``, ``METRIC_ci_high`` for every metric of the report
    (None where a method lacks the metric or a group is too small for an interval)."""
    means, intervals, groups = report.means(), report.intervals(), report.groups()
    metrics = report_metrics(report)
    rows = []
    for group, idx in groups.items():
        for name, method in report.methods.items():
            row = {"group": group, "n": len(idx), "method": name, "kind": method["kind"]}
            for k in metrics:
                ci = intervals[name][group].get(k)
                row[k] = means[name][group].get(k)
                row[f"{k}_ci_low"], row[f"{k}_ci_high"] = ci if ci else (None, None)
            rows.append(row)
    return rows


def to_csv(report: EvaluationReport) -> str:
    """The rows of :func:`table_rows` as CSV text (a header line; empty cells for None;
    floats by ``repr``, so they read back exactly)."""
    rows = table_rows(report)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["group"])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else repr(v) if isinstance(v, float) else v
                         for k, v in row.items()})  # fmt: skip
    return out.getvalue()


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (method names such as nlm+menon or
    remosaic_menon)."""
    specials = {
        "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    }  # fmt: skip
    return "".join(specials.get(c, c) for c in text)


def _cell(row: dict, key: str, best: float | None) -> str:
    """One LaTeX cell: the mean (bold when it is the group's best) and its interval."""
    value = row[key]
    if value is None:
        return "--"
    text = METRIC_FORMATS[key].format(value)
    if best is not None and value == best:
        text = rf"\textbf{{{text}}}"
    low, high = row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if low is not None:
        fmt = METRIC_FORMATS[key]
        text += rf" {{\scriptsize [{fmt.format(low)}, {fmt.format(high)}]}}"
    return text


def _best(rows: list[dict], key: str) -> float | None:
    """The best finite mean of ``key`` among ``rows`` (None if none)."""
    values = [r[key] for r in rows if r[key] is not None and math.isfinite(r[key])]
    if not values:
        return None
    return max(values) if HIGHER_IS_BETTER.get(key, True) else min(values)


def to_latex(report: EvaluationReport, caption: str | None = None, label: str = "tab:eval") -> str:
    """A LaTeX ``table`` (booktabs) of every method's means and 95 % intervals, one block of
    rows per noise group, the best mean of each metric in bold.

    Parameters
    ----------
    report : EvaluationReport
        An evaluation (read back from JSON or fresh).
    caption : str, optional
        Table caption; default: the dataset, split, pattern and how the intervals were made.
    label : str
        ``\\label`` of the table.

    Returns
    -------
    str
        The ``table`` environment, ready for ``\\input``.
    """
    rows, metrics = table_rows(report), report_metrics(report)
    arrows = {k: r"$\uparrow$" if HIGHER_IS_BETTER.get(k, True) else r"$\downarrow$"
              for k in metrics}  # fmt: skip
    head = " & ".join(["Method", *(f"{latex_escape(METRIC_LABELS[k])} {arrows[k]}"
                                   for k in metrics)])  # fmt: skip
    if caption is None:
        caption = (
            f"{latex_escape(report.pattern)} {latex_escape(report.split)} split "
            f"({len(report.samples)} samples): mean and percentile-bootstrap 95\\,\\% "
            "interval over the samples; best mean in bold."
        )
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{l" + "c" * len(metrics) + "}",
        r"\toprule",
        head + r" \\",
    ]
    groups = list(dict.fromkeys(r["group"] for r in rows))
    for group in groups:
        block = [r for r in rows if r["group"] == group]
        lines.append(r"\midrule")
        if len(groups) > 1:
            title = "All samples" if group == "all" else latex_escape(group)
            lines.append(
                rf"\multicolumn{{{len(metrics) + 1}}}{{l}}{{\emph{{{title}}} "
                rf"($n={block[0]['n']}$)}} \\"
            )
        best = {k: _best(block, k) for k in metrics}
        for r in block:
            cells = [latex_escape(r["method"]), *(_cell(r, k, best[k]) for k in metrics)]
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)
