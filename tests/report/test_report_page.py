"""The report page (aekit.report.html, figures, facts): contents and anchors, readable figures,
one summary table, run facts, the verdict on PCA, file permissions."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit import AutoEncoder
from aekit.data import Dataset
from aekit.report import figures
from aekit.report.facts import facts_table, parameter_count, pca_verdict
from aekit.report.html import MIN_FIGURE_WIDTH, Section, Table, page_html, write_report
from aekit.report.run_report import ReportEntry, build_report
from aekit.runs import UMASK

VOID = {"meta", "img", "br", "hr", "input", "link", "col", "source", "wbr"}


class TagChecker(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.ids = [], [], []

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id"]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def parse(text: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    return checker


def png(path: Path, width: int, height: int) -> Path:
    Image.new("L", (width, height)).save(path)
    return path


def test_contents_link_every_section_by_a_unique_anchor():
    text = page_html("t", [Section("Summary"), Section("AE, 8-D code"), Section("AE, 8-D code")])
    checker = parse(text)
    links = re.findall(r'<a href="#([^"]+)">', text)
    assert links == ["summary", "ae-8-d-code", "ae-8-d-code-2"]
    assert set(links) <= set(checker.ids) and len(set(checker.ids)) == len(checker.ids)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<nav" not in page_html("t", [Section("only one")])  # one section needs no contents


def test_small_pictures_are_enlarged_to_a_readable_width_and_large_ones_kept(tmp_path):
    small = png(tmp_path / "grid.png", 270, 270)
    large = png(tmp_path / "plot.png", 800, 400)
    text = page_html("t", [Section("s", figures=[(small, "a grid"), (large, "a plot")])])
    imgs = re.findall(r"<img[^>]*>", text)
    assert 'class="pixels"' in imgs[0]
    width = int(re.search(r'width="(\d+)"', imgs[0]).group(1))
    assert width >= MIN_FIGURE_WIDTH and width % 270 == 0  # a whole factor keeps the pixels square
    assert "width=" not in imgs[1] and "pixels" not in imgs[1]


def test_report_and_figures_are_written_with_the_users_umask(tmp_path):
    page = write_report(tmp_path / "r.html", "t", [Section("s")])
    fig = figures.loss_curves([{"loss": 0.3}, {"loss": 0.2}], tmp_path / "loss.png")
    for path in (page, fig):
        assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK


def drawn_tick_labels(values, n_epochs):
    fig, ax = figures.plt.subplots()
    ax.plot(np.arange(1, n_epochs + 1), values)
    scale = figures.plain_loss_axes(ax, values)
    fig.canvas.draw()
    xs = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    ys = [t.get_text() for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True) if t.get_text()]
    offset = ax.yaxis.get_offset_text().get_text()
    figures.plt.close(fig)
    return scale, xs, ys, offset


@pytest.mark.parametrize("values", [
    [32.1, 27.6, 27.5, 27.4, 27.3],                       # a VAE's nats: used to read 3.2 × 10¹
    [1000.002, 1000.001, 1000.0005, 1000.0002, 1000.0001],  # a tiny change on a large level: an offset
    [0.5, 0.1, 0.04, 0.02, 0.011],                        # over a decade: logarithmic
])
def test_loss_plots_have_whole_epoch_ticks_and_plain_labels(values):
    scale, xs, ys, offset = drawn_tick_labels(values, 5)
    assert xs and all(re.fullmatch(r"[−-]?\d+", t) for t in xs), xs   # no 1.5, 2.5 epochs
    assert ys and not any(c in "".join(ys) for c in "$×^e"), ys        # no powers of ten, no mathtext
    assert offset == ""                                                 # no "+1e3" above the axis
    assert scale == ("log" if max(values) / min(values) >= 10 else "linear")


def test_latent_scatter_of_10000_points_is_drawn_light_and_a_larger_set_is_sampled(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(fig) or Path(path))
    rng = np.random.default_rng(0)
    for n in (300, 10_000, 25_000):
        figures.latent_scatter({"ae": rng.normal(size=(n, 2))}, rng.integers(0, 10, n), tmp_path / "z.png")
    (small,), (crowded,), (sampled,) = (fig.axes[:1] for fig in drawn)
    a_small, a_crowded = small.collections[0], crowded.collections[0]
    assert a_crowded.get_alpha() < a_small.get_alpha() and a_crowded.get_sizes()[0] < a_small.get_sizes()[0]
    assert len(crowded.collections[0].get_offsets()) == 10_000 and "random" not in crowded.get_title()
    assert len(sampled.collections[0].get_offsets()) == figures.SCATTER_MAX_POINTS
    assert "a random 10,000 of 25,000 points" in sampled.get_title()
    for fig in drawn:
        figures.plt.close(fig)


def test_facts_table_gives_layers_parameters_epochs_time_and_seed():
    X = np.random.default_rng(0).random((60, 16)).astype(np.float32)
    est = AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=7).fit(X)
    rows = {r[0]: r[1] for r in facts_table(est).rows}
    assert rows["layers: encoder"].startswith("Linear 16→8") and "Linear 8→2" in rows["layers: encoder"]
    assert rows["parameters"] == f"{parameter_count(est.model_):,}" == f"{sum(p.numel() for p in est.model_.parameters()):,}"
    assert rows["epochs"].startswith(f"{est.n_epochs_} (best {est.best_epoch_} by validation loss)")
    assert rows["seed"] == "7"
    assert re.fullmatch(r"\d+\.\d s \(sum of the epochs\)", rows["training time"])
    assert facts_table(est, {"train_seconds": 12.34}).rows[-2][1] == "12.3 s (whole fit)"


def test_pca_verdict_counts_the_losers_and_gives_each_reason():
    most = pca_verdict([("AE", 0.6, None), ("DAE <b>", 1.4, "trained to denoise"), ("SAE", 1.9, None)])
    assert "Most of these models (2 of 3)" in most and "trained to denoise" in most
    assert "DAE &lt;b&gt;" in most and "expected to beat PCA" in most  # names escaped; a loss without a reason said
    few = pca_verdict([("AE", 0.6, None), ("AE2", 0.7, None), ("SAE", 1.9, "sparse")])
    assert "2 of 3 models reconstruct the test set better" in few and "sparse" in few
    assert "All 2 models" in pca_verdict([("a", 0.5, None), ("b", 0.9, None), ("c", None, None)])
    assert "Every one of these 2 models" in pca_verdict([("a", 1.5, None), ("b", 1.2, None)])
    assert pca_verdict([("c", None, None)]) == ""
    # within 1 % of PCA is level with it, neither a win nor a loss that needs a reason
    level = pca_verdict([("a", 0.5, None), ("b", 1.004, None), ("c", 1.3, "noise")])
    assert "b is level with PCA" in level and "b (" not in level and "c (1.30× PCA's error): noise" in level


def test_build_report_has_one_summary_table_contents_facts_maps_and_the_verdict(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((120, 1, 4, 4)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    train, test = Dataset(X[:80], y[:80], "toy", (0.0, 1.0)), Dataset(X[80:], y[80:], "toy", (0.0, 1.0))
    entries = [ReportEntry(f"AE {k}", AutoEncoder(hidden=(8,), latent_dim=k, epochs=2, random_state=0).fit(train.X),
                           pca_reason="a toy" if k == 2 else None) for k in (2, 3)]
    text = build_report(tmp_path / "report.html", entries, train, test).read_text()
    parse(text)
    assert text.count("<th>model ÷ PCA</th>") == 1         # the summary table, not repeated per model
    # these models had a validation split: their best epoch is by validation loss, and the page says so
    assert all("val_loss" in e.estimator.history_[0] for e in entries)
    assert text.count("(lowest validation loss)") == 2 and "no validation split" not in text
    assert text.count("class='facts'") == 2 and text.count("class='interactive aekit-map'") == 2
    assert re.findall(r'<a href="#([^"]+)">', text)[:3] == ["summary-each-model-beside-pca", "ae-2", "ae-3"]
    ratios = [e.metrics["model_vs_pca"] for e in entries]
    losers = sum(r > 1 for r in ratios)
    assert "class='verdict'" in text
    if losers == len(ratios):
        assert "Every one of these 2 models" in text
    elif 2 * losers > len(ratios):
        assert f"Most of these models ({losers} of 2)" in text
    elif losers == 0:
        assert "All 2 models" in text
    else:
        assert f"{2 - losers} of 2 models reconstruct" in text


def test_a_model_without_a_validation_split_says_its_best_epoch_is_by_training_loss(tmp_path):
    X = np.random.default_rng(0).random((100, 6)).astype(np.float32)
    train, test = Dataset(X[:80], None, "toy", (0.0, 1.0)), Dataset(X[80:], None, "toy", (0.0, 1.0))
    ae = AutoEncoder(hidden=(4,), latent_dim=2, epochs=2, validation_fraction=0.0, random_state=0).fit(train.X)
    text = build_report(tmp_path / "report.html", [ReportEntry("AE", ae)], train, test).read_text()
    assert "(lowest training loss: no validation split)" in text
