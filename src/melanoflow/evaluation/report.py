"""Per-variant metrics files and the comparison of all variants with the paper's Tables 3 and 4.

``evaluate_variant`` writes ``results/reports/<variant>/metrics.json``; ``compare_variants`` writes
``comparison.csv``, a Markdown and an HTML summary (the paper's numbers beside ours, and whether the
proposed classifier beats the baseline by the paired bootstrap) and the ROC and confusion figures.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from melanoflow import io
from melanoflow.evaluation import bootstrap, figures
from melanoflow.evaluation.metrics import read_predictions, score_predictions
from melanoflow.manifest import UNSCORED

log = logging.getLogger(__name__)

# The paper's Tables 3 and 4: ISIC 2017 test set (600 images), models trained on ISIC 2017 + PH2 +
# Dermofit. Other data than any run of this workflow on generated images: shown for orientation only.
PAPER_ROWS = [
    {"model": "traditional baseline (ResNet-50)", "melanoma_auc": 0.805, "mean_auc": 0.873},
    {
        "model": "proposed model",
        "melanoma_auc": 0.880,
        "mean_auc": 0.915,
        "spec_0.82": 0.697,
        "spec_0.89": 0.648,
        "spec_0.95": 0.492,
    },
    {"model": "ISIC 2017 challenge winners", "melanoma_auc": 0.874, "mean_auc": 0.911},
    {"model": "ISIC 2017 Top AVG", "spec_0.82": 0.729, "spec_0.89": 0.588, "spec_0.95": 0.366},
    {"model": "ISIC 2017 Top SK", "spec_0.82": 0.727, "spec_0.89": 0.555, "spec_0.95": 0.404},
    {"model": "ISIC 2017 Top M", "spec_0.82": 0.747, "spec_0.89": 0.590, "spec_0.95": 0.395},
]
PAPER_SOURCE = "paper (ISIC 2017 test set; other data)"
PAPER_NOTE = (
    "Rows marked 'paper' are the published numbers (Tables 3 and 4) on the ISIC 2017 test set with "
    "models trained on other data; they are not comparable measurements of this run."
)
HEADLINE_AUCS = ("melanoma_auc", "mean_auc", "macro_auc")
# The classical floor's predictions (logistic regression on lesion features): every deep variant must beat it.
CLASSICAL_FLOOR = "classical_floor"
SPEC_LABEL = "spec. @ sens. "  # then the target sensitivity: the summary's specificity columns


def scoring_arguments(params: Mapping) -> dict:
    return {
        "classes": list(params["classes"]),
        "melanoma": params["melanoma_class"],
        "keratosis": params["keratosis_class"],
    }


def bootstrap_arguments(params: Mapping) -> dict:
    return {
        "resamples": params["bootstrap"]["resamples"],
        "seed": params["seed"],
        "level": params["bootstrap"]["level"],
    }


def variant_scores(frame: pd.DataFrame, params: Mapping, variant: str, split: str) -> dict:
    """Every ISIC metric of one variant's predictions on one split, with bootstrap intervals of its AUCs."""
    scoring = scoring_arguments(params)
    scores = score_predictions(frame, sensitivities=tuple(params["sensitivities"]), **scoring)
    scores["intervals"] = bootstrap.auc_intervals(frame, **scoring, **bootstrap_arguments(params))
    scores |= {"variant": variant, "split": split}
    scores["bootstrap"] = dict(params["bootstrap"], seed=params["seed"], stratified_by="true class")
    log.info(
        "%s: melanoma AUC %.3f %s, mean AUC %.3f %s on %d %s images",
        variant,
        scores["melanoma_auc"],
        scores["intervals"]["melanoma_auc"],
        scores["mean_auc"],
        scores["intervals"]["mean_auc"],
        len(frame),
        split,
    )
    return scores


def evaluate_variant(predictions: str, metrics_path: str, params: Mapping, variant: str, split: str = "test") -> None:
    """Score the ``split`` rows of one predictions table, with bootstrap intervals of its AUCs."""
    frame = read_predictions(predictions, list(params["classes"]), split)
    io.write_json(metrics_path, variant_scores(frame, params, variant, split))


def read_classifier_metadata(checkpoint: str) -> dict:
    """A saved classifier's metadata (arch, input size, pretrained...), without building the network.

    The classical floor's model is a JSON file: a logistic regression, for which pretraining means nothing.
    """
    if str(checkpoint).endswith(".json"):
        return {"arch": "logistic regression on lesion features", "pretrained": None}
    from melanoflow.runtime import load_checkpoint  # here only: scoring needs no torch, slow to import

    state = load_checkpoint(checkpoint, mmap=True)
    return {key: value for key, value in state.items() if key != "model"}


def comparison_table(
    scores: Mapping[str, dict],
    differences: Mapping[str, dict],
    classifiers: Mapping[str, dict],
    sensitivities,
) -> pd.DataFrame:
    """One row per variant: AUCs with interval bounds, specificities, accuracies and the paired
    difference of each AUC to the baseline (empty for the baseline itself)."""
    rows = []
    for variant, variant_scores in scores.items():
        row = {
            "variant": variant,
            "n_images": variant_scores["n_images"],
            "arch": classifiers[variant]["arch"],
            "pretrained": classifiers[variant]["pretrained"],
        }
        for metric in HEADLINE_AUCS:
            low, high = variant_scores["intervals"][metric]
            row |= {metric: variant_scores[metric], f"{metric}_low": low, f"{metric}_high": high}
        for target in sensitivities:
            row[f"spec_{target:.2f}"] = variant_scores["specificity_at_sensitivity"][f"{target:.2f}"]
        row |= {
            "accuracy": variant_scores["accuracy"],
            "balanced_accuracy": variant_scores["balanced_accuracy"],
        }
        for metric, difference in differences.get(variant, {}).items():
            if metric in HEADLINE_AUCS:
                row |= {
                    f"{metric}_diff": difference["difference"],
                    f"{metric}_diff_low": difference["interval"][0],
                    f"{metric}_diff_high": difference["interval"][1],
                    f"{metric}_share_not_better": difference["share_not_better"],
                }
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(baseline: str, proposed: str, difference: Mapping, metric_name: str, level: float) -> str:
    """One sentence: does ``proposed`` beat ``baseline`` on this AUC, by the paired bootstrap interval?"""
    low, high = difference["interval"]
    if low > 0:
        outcome = f"{proposed} beats {baseline}"
    elif high < 0:
        outcome = f"{baseline} beats {proposed}"
    else:
        outcome = f"no clear difference between {proposed} and {baseline} (the interval includes 0)"
    return (
        f"{metric_name}: {proposed} minus {baseline} = {difference['difference']:+.3f}, "
        f"{level:.0%} CI [{low:+.3f}, {high:+.3f}] ({proposed} not better in "
        f"{difference['share_not_better']:.1%} of paired resamples): {outcome}."
    )


def model_description(arch: str, pretrained: bool | None) -> str:
    if pretrained is None or pd.isna(pretrained):
        return arch
    return f"{arch}, {'ImageNet' if pretrained else 'random'} init"


def summary_rows(table: pd.DataFrame, sensitivities, split: str = "test") -> pd.DataFrame:
    """The Markdown/HTML table: our variants with intervals, then the paper's rows, clearly labelled."""

    def with_interval(row, metric):
        return f"{row[metric]:.3f} [{row[f'{metric}_low']:.3f}, {row[f'{metric}_high']:.3f}]"

    def difference(row, metric):
        if pd.isna(row[f"{metric}_diff"]):
            return ""
        return f"{row[f'{metric}_diff']:+.3f} [{row[f'{metric}_diff_low']:+.3f}, {row[f'{metric}_diff_high']:+.3f}]"

    spec_columns = {f"spec_{target:.2f}": f"{SPEC_LABEL}{target:.0%}" for target in sensitivities}
    ours = [
        {
            "model": f"{row['variant']} ({model_description(row['arch'], row['pretrained'])})",
            "source": f"this run ({split} split)",
            "melanoma AUC": with_interval(row, "melanoma_auc"),
            "mean AUC": with_interval(row, "mean_auc"),
            **{label: f"{row[column]:.3f}" for column, label in spec_columns.items()},
            "accuracy": f"{row['accuracy']:.3f}",
            "Δ melanoma AUC vs baseline": difference(row, "melanoma_auc"),
            "Δ mean AUC vs baseline": difference(row, "mean_auc"),
        }
        for _, row in table.iterrows()
    ]
    paper = [
        {
            "model": row["model"],
            "source": PAPER_SOURCE,
            "melanoma AUC": f"{row['melanoma_auc']:.3f}" if "melanoma_auc" in row else "",
            "mean AUC": f"{row['mean_auc']:.3f}" if "mean_auc" in row else "",
            **{
                label: f"{row[column]:.3f}" if column in row else "" for column, label in spec_columns.items()
            },
        }
        for row in PAPER_ROWS
    ]
    return pd.DataFrame(ours + paper).fillna("")


def summary_texts(
    scores: Mapping[str, dict],
    differences: Mapping[str, dict],
    classifiers: Mapping[str, dict],
    params: Mapping,
    split: str = "test",
    over_floor: Mapping[str, dict] | None = None,
) -> list[str]:
    """The verdict sentences and any warnings, in the order the summary shows them. ``over_floor``: each
    deep variant's paired AUC differences to the classical floor, which every deep model must beat."""
    baseline, proposed, level = params["baseline"], params["proposed"], params["bootstrap"]["level"]
    n_images = scores[baseline]["n_images"]
    texts = [
        f"Bootstrap: {params['bootstrap']['resamples']} resamples stratified by true class, paired across "
        f"variants, seed {params['seed']}; {n_images} {split} images."
    ]
    if split == "val":
        texts.append(
            "The validation split chose each classifier's epoch (and the classical floor's regularisation): "
            "these numbers are optimistic; the test split decides."
        )
    if proposed in differences:
        texts += [
            verdict(baseline, proposed, differences[proposed][metric], name, level)
            for metric, name in (("melanoma_auc", "Melanoma ROC AUC"), ("mean_auc", "Mean ROC AUC"))
        ]
    for variant, floor_differences in (over_floor or {}).items():
        texts += [
            verdict(CLASSICAL_FLOOR, variant, floor_differences[metric], name, level)
            for metric, name in (("melanoma_auc", "Melanoma ROC AUC"), ("mean_auc", "Mean ROC AUC"))
        ]
    texts += [
        f"Warning: classifier {variant!r} was trained without ImageNet weights (pretrained: false); the "
        "paper fine-tunes ImageNet weights."
        for variant, meta in classifiers.items()
        if meta["pretrained"] is False
    ]
    texts.append(PAPER_NOTE)
    return texts


def compare_variants(
    predictions: Mapping[str, str],
    metrics: Mapping[str, str] | None,
    checkpoints: Mapping[str, str],
    outputs: Mapping[str, str],
    params: Mapping,
    split: str = "test",
    splits: str | None = None,
) -> None:
    """Paired comparison of every variant with the baseline on ``split``; writes ``outputs``: table (CSV),
    markdown, and where named html, roc and confusion (figures) and front_page (the report's landing page,
    which says where the splits came from when ``splits`` names the ingest's splits.json). ``metrics``
    are the variants' metrics files (None: scored here). ``checkpoints`` are the variants' classifiers,
    read for how they were initialised (the summary warns where ImageNet weights were missing)."""
    scoring = scoring_arguments(params)
    frames = {variant: read_predictions(path, scoring["classes"], split) for variant, path in predictions.items()}
    if metrics is None:
        scores = {variant: variant_scores(frame, params, variant, split) for variant, frame in frames.items()}
    else:
        scores = {variant: json.loads(Path(path).read_text()) for variant, path in metrics.items()}
    baseline = params["baseline"]
    if baseline not in frames or params["proposed"] not in frames:
        raise ValueError(
            f"baseline {baseline!r} and proposed {params['proposed']!r} must be among the evaluated "
            f"variants {list(frames)}"
        )
    keys = ["dataset", "image_id", "label"]
    for variant, frame in frames.items():
        if not frame[keys].equals(frames[baseline][keys]):
            raise io.BadInputError(
                f"{predictions[variant]}: not the same test images and labels as {predictions[baseline]}; "
                "a paired comparison needs both classifiers' predictions on the same images"
            )
    differences = {
        variant: bootstrap.paired_auc_differences(
            frames[baseline], frame, **scoring, **bootstrap_arguments(params)
        )
        for variant, frame in frames.items()
        if variant != baseline
    }
    over_floor = {
        variant: bootstrap.paired_auc_differences(
            frames[CLASSICAL_FLOOR], frame, **scoring, **bootstrap_arguments(params)
        )
        for variant, frame in frames.items()
        if CLASSICAL_FLOOR in frames and variant != CLASSICAL_FLOOR
    }
    classifiers = {variant: read_classifier_metadata(path) for variant, path in checkpoints.items()}
    table = comparison_table(scores, differences, classifiers, params["sensitivities"])
    with io.atomic_path(outputs["table"]) as tmp:
        table.to_csv(tmp, index=False)
    rows = summary_rows(table, params["sensitivities"], split)
    texts = summary_texts(scores, differences, classifiers, params, split, over_floor)
    for text in texts:
        log.info("%s", text)
    io.write_text(
        outputs["markdown"],
        rows.to_markdown(index=False, disable_numparse=True) + "\n\n" + "\n\n".join(texts) + "\n",
    )
    if "html" in outputs:
        io.write_text(outputs["html"], summary_html(rows, texts))
    if "front_page" in outputs:
        split_summary = json.loads(Path(splits).read_text()) if splits else None
        io.write_text(outputs["front_page"], front_page(rows, texts, split_summary, split))
    if "roc" in outputs:
        io.write_figure(outputs["roc"], figures.plot_roc_curves(frames, scores, scoring["classes"]))
    if "confusion" in outputs:
        io.write_figure(outputs["confusion"], figures.plot_confusion_matrices(scores, scoring["classes"]))


def summary_html(rows: pd.DataFrame, texts: list[str]) -> str:
    paragraphs = "\n".join(f"<p>{html.escape(text)}</p>" for text in texts)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>melanoflow: classifier comparison</title>"
        "<style>body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}</style></head><body>"
        f"<h2>Classifier comparison: ROC AUC and specificity (ISIC 2017 metrics)</h2>"
        f"{rows.to_html(index=False, border=0)}\n{paragraphs}</body></html>\n"
    )


def rst_text(text) -> str:
    """``text`` as plain reStructuredText inline content: its inline markup characters escaped."""
    return re.sub(r"([\\`*_|])", r"\\\1", str(text))


def rst_table(rows: pd.DataFrame, title: str) -> str:
    """A list-table (reStructuredText) of ``rows``, every cell literal text."""
    lines = [f".. list-table:: {rst_text(title)}", "   :header-rows: 1", "   :widths: auto", ""]
    for cells in [list(rows.columns), *rows.astype(str).to_numpy().tolist()]:
        lines += [f"   {'*' if index == 0 else ' '} - {rst_text(cell)}".rstrip() for index, cell in enumerate(cells)]
    return "\n".join(lines)


def split_lines(splits: Mapping) -> list[str]:
    """One line per dataset of the ingest's splits.json: each split's images and where they came from."""
    return [
        f"{dataset}: "
        + "; ".join(
            f"{name}: {parts[name]['images']} images, {parts[name]['origin']}"
            for name in ("test", "val", "train", UNSCORED)
            if name in parts
        )
        for dataset, parts in splits.items()
    ]


def front_page(rows: pd.DataFrame, texts: list[str], splits: Mapping | None = None, split: str = "test") -> str:
    """The report's landing page (reStructuredText; workflow/report/workflow.rst includes it), narrow
    enough for the column beside the workflow graph: the verdict sentences, this run's variants with
    intervals, where the splits came from (``splits``: the ingest's splits.json), and that the paper's
    published rows, beside ours in the full comparison, are other data."""
    ours = rows.loc[rows["source"] != PAPER_SOURCE]
    specificities = [column for column in rows if column.startswith(SPEC_LABEL)]
    table = ours[["model", "melanoma AUC", "mean AUC", "Δ melanoma AUC vs baseline"]].copy()
    table[SPEC_LABEL + " / ".join(column.removeprefix(SPEC_LABEL) for column in specificities)] = [
        " / ".join(values) for values in ours[specificities].astype(str).to_numpy().tolist()
    ]
    parts = [f"**The answer of this run** (classifiers compared on the {split} split)"]
    parts += [rst_text(text) for text in texts if text != PAPER_NOTE]
    parts.append(rst_table(table, f"This run, {split} split: AUCs with bootstrap intervals [low, high]"))
    if splits:
        parts.append("**Where the splits came from** (ingest):")
        parts.append("\n".join(f"- {rst_text(line)}" for line in split_lines(splits)))
    parts.append(
        "The paper's published numbers (Tables 3 and 4: the ISIC 2017 test set, models trained on other "
        "data) stand beside these rows in the full comparison (6. Comparison); they are not comparable "
        "measurements of this run."
    )
    return "\n\n".join(parts) + "\n"
