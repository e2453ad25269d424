"""Paper-ready output of an evaluation (cfasim.eval.tables, cfasim.eval.figures, cfasim.figures,
EvaluationReport.paper_figure): numbers read back from CSV / LaTeX, figure sizes in inches and
pixels, fonts embedded, labels inside their panels, exported crops equal to the report's."""

import csv
import io
import re

import imagecodecs
import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from cfasim.cfa import get_pattern
from cfasim.eval import figures as F
from cfasim.eval import tables as T
from cfasim.eval.crops import false_color_mosaic
from cfasim.eval.report import EvaluationReport
from cfasim.figures import COLUMN_WIDTH_IN, PNG_DPI, TEXT_WIDTH_IN, parse_formats

N = 12


@pytest.fixture(scope="module")
def report():
    """A hand-made Nona report: 12 samples in two noise bins, three methods, one crop."""
    rng = np.random.default_rng(0)
    pattern = get_pattern("nona")
    per = {
        "binning": {"psnr": list(28 + rng.normal(0, 1, N)), "ssim": list(rng.uniform(0.8, 0.9, N))},
        "remosaic_menon": {
            "psnr": list(25 + rng.normal(0, 1, N)),
            "ssim": list(rng.uniform(0.6, 0.7, N)),
            "kld": list(rng.uniform(0.2, 0.4, N)),
        },
        "nlm+remosaic_menon": {
            "psnr": list(26 + rng.normal(0, 1, N)),
            "ssim": list(rng.uniform(0.7, 0.8, N)),
        },
    }
    methods = {k: {"kind": "baseline", "source": k, "per_sample": v} for k, v in per.items()}
    raw = rng.integers(64, 1023, size=(24, 24)).astype(np.uint16)
    images = {k: rng.uniform(0, 1, (24, 24, 3)) for k in methods}
    crop = {
        "sample": 3, "y": 6, "x": 12, "size": 24, "score": 1.0,
        "mosaic": false_color_mosaic(raw, pattern, 64, 1023),
        "target": rng.uniform(0, 1, (24, 24, 3)),
        "images": images, "psnr": {k: 20.0 + i for i, k in enumerate(methods)},
    }  # fmt: skip
    bins = [
        {"label": "low noise", "low": 0.001, "high": 0.004, "samples": list(range(6))},
        {"label": "high noise", "low": 0.004, "high": 0.03, "samples": list(range(6, N))},
    ]
    return EvaluationReport(
        dataset="d.zarr", split="test", pattern=pattern.name, scale=1, samples=list(range(N)),
        noise_levels=[0.002] * 6 + [0.01] * 6, noise_bins=bins, methods=methods, crops=[crop],
    )  # fmt: skip


def test_csv_reads_back_the_means_and_intervals_exactly(report):
    rows = list(csv.DictReader(io.StringIO(T.to_csv(report))))
    means, intervals = report.means(), report.intervals()
    assert len(rows) == 3 * len(report.methods)  # all + two bins
    for row in rows:
        name, group = row["method"], row["group"]
        assert int(row["n"]) == len(report.groups()[group])
        assert float(row["psnr"]) == means[name][group]["psnr"]
        ci = intervals[name][group]["psnr"]
        if ci is None:  # 6 samples: too few for an interval
            assert row["psnr_ci_low"] == row["psnr_ci_high"] == ""
        else:
            assert [float(row["psnr_ci_low"]), float(row["psnr_ci_high"])] == ci
        assert (row["kld"] == "") == (name != "remosaic_menon")


def test_latex_table_bolds_the_best_mean_and_escapes_names(report):
    tex = T.to_latex(report, label="tab:nona")
    assert tex.count("{") == tex.count("}")
    assert r"\begin{tabular}{lccc}" in tex  # method + PSNR, SSIM, KLD
    assert r"remosaic\_menon" in tex and "remosaic_menon" not in tex
    assert r"\label{tab:nona}" in tex and r"\toprule" in tex and r"\bottomrule" in tex
    means = report.means()
    best = max(means, key=lambda n: means[n]["all"]["psnr"])
    all_block = tex.split(r"\midrule")[1]
    bold = re.findall(r"\\textbf\{([0-9.]+)\}", all_block.splitlines()[2 + list(means).index(best)])
    assert f"{means[best]['all']['psnr']:.2f}" in bold
    lo, hi = report.intervals()[best]["all"]["psnr"]
    assert f"[{lo:.2f}, {hi:.2f}]" in all_block
    kld_best = f"{means['remosaic_menon']['all']['kld']:.4f}"  # the only KLD: best, lower is better
    assert rf"\textbf{{{kld_best}}}" in all_block


def test_latex_escape():
    assert T.latex_escape("a_b&c%d$e#f{g}h~i^j\\") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}"
    )


def test_summary_figure_has_column_width_and_its_points(report, tmp_path):
    points = F.psnr_points(report)
    assert list(points) == list(report.methods)
    m = report.means()["binning"]
    assert [p[1] for p in points["binning"]] == [m[g]["psnr"] for g in ("all", "low noise",
                                                                      "high noise")]  # fmt: skip
    assert np.isnan(points["binning"][1][2])  # a 6-sample bin has no interval
    paths = F.summary_figure(report, tmp_path / "s", ("png", "pdf", "svg"))
    assert [p.suffix for p in paths] == [".png", ".pdf", ".svg"]
    image = matplotlib.image.imread(paths[0])
    assert image.shape[1] == round(COLUMN_WIDTH_IN * PNG_DPI)
    pdf = paths[1].read_bytes()
    width_pt = float(re.search(rb"/MediaBox \[ *0 0 ([0-9.]+)", pdf).group(1))
    assert width_pt == pytest.approx(COLUMN_WIDTH_IN * 72)
    assert b"/FontFile2" in pdf and b"/CreationDate" not in pdf  # TrueType embedded, no date
    svg = paths[2].read_text()
    assert "nlm+remosaic_menon" in svg and "<text" in svg  # text stays text
    again = F.summary_figure(report, tmp_path / "t", ("pdf", "svg"))
    assert [p.read_bytes() for p in again] == [paths[1].read_bytes(), paths[2].read_bytes()]


def test_paper_figure_is_text_width_with_every_label_inside_its_panel(report, tmp_path):
    width_px = report.figure_size()[0]
    dpi = width_px / TEXT_WIDTH_IN
    fig = report._grid_figure(dpi, 7, fit_labels=True)
    renderer = fig.canvas.get_renderer()
    panel = report._panel_geometry()[0]
    sizes = {t.get_fontsize() for t in fig.texts}
    assert len(sizes) == 1 and 5 <= sizes.pop() <= 7  # one readable size for every label
    for t in fig.texts:
        box = t.get_window_extent(renderer)
        assert box.width <= panel * fig.dpi / dpi + 0.5  # panel width in display pixels
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width
    (pdf,) = report.paper_figure(tmp_path / "grid", ("pdf",))
    width_pt = float(re.search(rb"/MediaBox \[ *0 0 ([0-9.]+)", pdf.read_bytes()).group(1))
    assert width_pt == pytest.approx((width_px + 0.5) / dpi * 72)


def test_export_crops_writes_the_report_pixels(report, tmp_path):
    paths = F.export_crops(report, tmp_path, period=6)
    crop = report.crops[0]
    folder = tmp_path / "crop0_sample3_y6_x12"
    assert {p.name for p in paths} == {
        *(f"{k}{z}.png" for k in ("mosaic", "target", *report.methods) for z in ("", "_zoom")),
        "mosaic_blocks.png",
    }
    native = imagecodecs.png_decode((folder / "binning.png").read_bytes())
    assert np.array_equal(native, np.round(crop["images"]["binning"] * 255).astype(np.uint8))
    zoomed = imagecodecs.png_decode((folder / "binning_zoom.png").read_bytes())
    assert zoomed.shape[0] == 24 * 8  # ceil(192 / 24) = 8
    assert np.array_equal(zoomed[::8, ::8], native)
    blocks = imagecodecs.png_decode((folder / "mosaic_blocks.png").read_bytes())
    factor = blocks.shape[0] // 12  # two Nona periods of 6 pixels
    assert blocks.shape[:2] == (12 * factor, 12 * factor) and factor >= 16
    colour = np.argmax(blocks[::factor, ::factor].astype(int), axis=-1)
    assert np.array_equal(colour, get_pattern("nona").color_index(12, 12))  # 3x3 blocks visible


def test_parse_formats():
    assert parse_formats("PNG, pdf,svg,pdf") == ("png", "pdf", "svg")
    with pytest.raises(ValueError, match="jpg"):
        parse_formats("png,jpg")


def test_cli_evaluate_rejects_unknown_formats(tmp_path):
    from cfasim.cli import main

    result = CliRunner().invoke(main, ["evaluate", str(tmp_path), "--formats", "png,jpg"])
    assert result.exit_code == 2 and "jpg" in result.output
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path), "--crops", "0", "--export-crops"])
    assert result.exit_code == 2 and "--export-crops" in result.output


def test_chart_metrics_reach_the_tables_with_their_direction(report):
    methods = {
        "a": {"kind": "baseline", "source": "a", "per_sample": {"chart_de00": [0.3] * N,
                                                                "mtf50": [0.25] * N}},
        "b": {"kind": "baseline", "source": "b", "per_sample": {"chart_de00": [1.6] * N,
                                                                "mtf50": [0.40] * N}},
    }  # fmt: skip
    chart = EvaluationReport(**{**report.__dict__, "methods": methods, "crops": []})
    assert T.report_metrics(chart) == ["chart_de00", "mtf50"]
    rows = list(csv.DictReader(io.StringIO(T.to_csv(chart))))
    assert float(rows[0]["chart_de00"]) == pytest.approx(0.3)
    tex = T.to_latex(chart)
    assert r"\textbf{0.300}" in tex and r"\textbf{0.400}" in tex  # lower dE00, higher MTF50
    assert "MTF50 (cy/px)" in chart.to_markdown()
