"""`aekit classify`: few-label classification with a trained encoder, beside logistic regression."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console
from aekit.cli.core import DataDirOpt, print_tables



@app.command()
def classify(
    run: Annotated[Path, typer.Argument(help="A run folder whose encoder to use (`aekit train`, AutoEncoder.save).")],
    data: Annotated[Optional[str], typer.Option("--data", help="Labelled data source (default: the run's). Its samples must have the size the encoder takes.")] = None,
    labels_per_class: Annotated[str, typer.Option("--labels-per-class", help="Comma-separated counts of labelled training samples per class.")] = "1,10,100",
    freeze: Annotated[bool, typer.Option("--freeze", help="Keep the encoder fixed; train only the softmax layer.", metavar="")] = False,
    pseudo_labels: Annotated[str, typer.Option("--pseudo-labels", help="Semi-supervised step on the unlabelled training rows: auto (= neighbours), neighbours (label spreading over the codes' nearest-neighbour graph, then curriculum self-training), self (the classifier's own confident predictions), none.")] = "auto",
    epochs: Annotated[int, typer.Option(help="Epochs over the labelled rows (pseudo-label rounds take as many gradient steps).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed: which samples are labelled, initialization, shuffling.")] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for classify.json and classify.png (default: RUN/classify).")] = None,
    data_dir: DataDirOpt = None,
    label_column: Annotated[Optional[str], typer.Option(help="CSV: name of the label column (default: the run's).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, ...")] = "cpu",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.", metavar="")] = False,
) -> None:
    """Few-label classification: the run's encoder + a softmax layer, trained on N labels per class.

    For each N, N labelled samples per class are drawn from the training split (the other training
    samples are unlabelled); the encoder is fine-tuned end to end with a softmax layer (or frozen
    with --freeze), with and without the semi-supervised pseudo-label step, and its test accuracy
    is printed beside logistic regression on the raw inputs and on PCA codes of the same size.
    Writes classify.json and an accuracy-vs-labels plot classify.png.
    """
    from aekit.errors import ConfigError
    from aekit.kinds import load_estimator, recorded_splits
    from aekit.report.task_results import classify_table
    from aekit.runs import RunRecord, write_json
    from aekit.tasks.classify import few_label_curve, parse_counts, plot_curve

    counts = parse_counts(labels_per_class)
    mode = None if pseudo_labels.lower() == "none" else pseudo_labels.lower()
    if mode not in (None, "auto", "neighbours", "self"):
        raise ConfigError(f"--pseudo-labels must be auto, neighbours, self or none (got {pseudo_labels!r})")
    est = load_estimator(run)
    train_ds, _, test_ds = recorded_splits(run, data, data_dir, label_column)
    result = few_label_curve(est, train_ds, test_ds, counts, freeze=freeze, pseudo_labels=mode, epochs=epochs,
                             seed=seed, device=device, progress=not quiet,
                             log=lambda s: console.print(s) if not quiet else None)
    result["run"] = str(run)
    out = out or run / "classify"
    write_json(out / "classify.json", result)
    plot_curve(result, out / "classify.png")
    RunRecord(run).record_task("classify", out)
    print_tables([classify_table(result)])
    console.print(f"wrote [bold]{out / 'classify.json'}[/bold] and [bold]{out / 'classify.png'}[/bold]")
