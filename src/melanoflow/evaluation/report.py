"""Per-variant metrics files and the comparison of all variants with the paper's published numbers.

``evaluate_variant`` writes ``results/reports/<variant>/metrics.json``; ``compare_variants`` writes
``comparison.csv``, a Markdown and an HTML summary (the paper's numbers beside ours, and whether the
proposed classifier beats the baseline by the paired bootstrap) and the ROC and confusion figures.

What the comparison leads with follows the run's challenge (a Headline): with a keratosis class the
ISIC 2017 AUCs beside the paper's Tables 3 and 4, without one (seven ISIC 2018 Task 3 classes) balanced
multiclass accuracy, the AUCs and the supplement's Table 6 measures beside Table 6.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from melanoflow import fileio
from melanoflow.evaluation import bootstrap, figures
from melanoflow.evaluation.metrics import ISIC2018_MEASURES, read_predictions, score_predictions
from melanoflow.evaluation.settings import AucSettings, ComparisonSettings, ScoringSettings
from melanoflow.tables import UNSCORED, UNTRAPPED

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
# The supplement's Table 6: ISIC 2018 Task 3 test set, scored by the challenge's submission system (read
# as the arg-max measures of metrics.isic2018_measures).
TABLE6_ROWS = [
    {
        "model": "classifier with test-time purification",
        "isic2018.accuracy": 0.717,
        "isic2018.sensitivity": 0.754,
        "isic2018.specificity": 0.837,
    },
    {
        "model": "classifier without test-time purification",
        "isic2018.accuracy": 0.675,
        "isic2018.sensitivity": 0.561,
        "isic2018.specificity": 0.954,
    },
]
# The classical floor's predictions (logistic regression on lesion features): every deep variant must beat it.
CLASSICAL_FLOOR = "classical_floor"
# A variant's predictions on purified test inputs are named `<variant><TEST_PURIFIED>`.
TEST_PURIFIED = ".test_purified"
SPEC_LABEL = "spec. @ sens. "  # then the target sensitivity: the summary's specificity columns


@dataclass(frozen=True)
class Column:
    """A column of the summary table: ``metric`` (a key of bootstrap.resampled_metrics, or ``accuracy``)
    with its interval, its paired difference to the baseline, or its bare value (``kind``); or, with
    kind ``specificities``, one column per configured melanoma sensitivity."""

    metric: str
    name: str
    kind: str = "interval"

    @property
    def header(self) -> str:
        return f"Δ {self.name} vs baseline" if self.kind == "difference" else self.name


SPECIFICITIES = Column("specificity_at_sensitivity", SPEC_LABEL, "specificities")


@dataclass(frozen=True)
class Headline:
    """What a run's comparison leads with, and the paper's rows shown beside it."""

    title: str  # the HTML summary's heading
    measured: str  # what the front page's table holds
    compared: tuple[str, ...]  # metrics with interval and paired difference in comparison.csv, in order
    columns: tuple[Column, ...]  # the summary table after model and source, in order
    front_page: tuple[Column, ...]  # the front page's columns after the model (then the specificities)
    judged: tuple[tuple[str, str], ...]  # (metric, name in the verdict sentences), in order
    paper_rows: tuple[dict, ...]  # the paper's numbers, keyed like ``columns``' metrics
    paper_tables: str  # where in the paper ``paper_rows`` are
    test_set: str  # what the paper measured them on
    notes: tuple[str, ...] = ()  # definitions shown with the verdicts

    @property
    def paper_source(self) -> str:
        return f"paper ({self.test_set}; other data)"

    @property
    def paper_note(self) -> str:
        return (
            f"Rows marked 'paper' are the published numbers ({self.paper_tables}) on the {self.test_set} with "
            "models trained on other data; they are not comparable measurements of this run."
        )


ISIC2017 = Headline(
    title="Classifier comparison: ROC AUC and specificity (ISIC 2017 metrics)",
    measured="AUCs",
    compared=("melanoma_auc", "mean_auc", "macro_auc"),
    columns=(
        Column("melanoma_auc", "melanoma AUC"),
        Column("mean_auc", "mean AUC"),
        SPECIFICITIES,
        Column("accuracy", "accuracy", "value"),
        Column("melanoma_auc", "melanoma AUC", "difference"),
        Column("mean_auc", "mean AUC", "difference"),
    ),
    front_page=(
        Column("melanoma_auc", "melanoma AUC"),
        Column("mean_auc", "mean AUC"),
        Column("melanoma_auc", "melanoma AUC", "difference"),
    ),
    judged=(("melanoma_auc", "Melanoma ROC AUC"), ("mean_auc", "Mean ROC AUC")),
    paper_rows=tuple(PAPER_ROWS),
    paper_tables="Tables 3 and 4",
    test_set="ISIC 2017 test set",
)
PAPER_SOURCE = ISIC2017.paper_source
PAPER_NOTE = ISIC2017.paper_note
TABLE6_NOTE = (
    "Table 6 measures of the arg-max decision (a tied top probability counts wrong): accuracy is the share "
    "of images decided right; sensitivity and specificity are each class's against the rest, averaged over "
    "the classes with cases (the sensitivity is the balanced accuracy). The paper does not define them; its "
    "accuracies (0.675, 0.717) rule out the official scorer's per-class calls at probability 0.5, whose "
    "seven-class average is at least 0.857."
)


def isic2018_headline(classes: list[str], melanoma: str) -> Headline:
    """A seven-class ISIC 2018 Task 3 run: balanced multiclass accuracy (the challenge's ranking) and its
    difference to the baseline first, then the AUCs, the supplement's Table 6 measures, each class's AUC."""
    leading = (
        Column("balanced_accuracy", "balanced accuracy"),
        Column("balanced_accuracy", "balanced accuracy", "difference"),
        Column("macro_auc", "macro AUC"),
        Column("melanoma_auc", "melanoma AUC"),
        *(Column(f"isic2018.{name}", f"{name} (Table 6)") for name in ISIC2018_MEASURES),
    )
    per_class = tuple(Column(f"auc.{name}", f"{name} AUC") for name in classes if name != melanoma)
    return Headline(
        title="Classifier comparison: balanced multiclass accuracy, ROC AUC and Table 6 measures (ISIC 2018 metrics)",
        measured="balanced accuracy, AUCs and Table 6 measures",
        compared=tuple(column.metric for column in leading + per_class if column.kind == "interval"),
        columns=(
            *leading,
            *per_class,
            SPECIFICITIES,
            Column("macro_auc", "macro AUC", "difference"),
            Column("melanoma_auc", "melanoma AUC", "difference"),
        ),
        front_page=leading,
        judged=(
            ("balanced_accuracy", "Balanced multiclass accuracy"),
            ("macro_auc", "Macro ROC AUC"),
            ("melanoma_auc", "Melanoma ROC AUC"),
        ),
        paper_rows=tuple(TABLE6_ROWS),
        paper_tables="the supplement's Table 6",
        test_set="ISIC 2018 Task 3 test set",
        notes=(TABLE6_NOTE,),
    )


def run_headline(classes: list[str], melanoma: str, keratosis: str | None) -> Headline:
    """ISIC 2017's headline where the run has a keratosis class, ISIC 2018's without one."""
    return ISIC2017 if keratosis is not None else isic2018_headline(classes, melanoma)


def metric_value(scores: Mapping, metric: str) -> float:
    """A metric of metrics.score_predictions' output by its bootstrap key ('auc.nevus': scores['auc']['nevus'])."""
    group, _, name = metric.partition(".")
    return scores[group][name] if name else scores[group]


def csv_column(metric: str) -> str:
    return metric.replace(".", "_")


def scoring_arguments(settings: AucSettings) -> dict:
    return {
        "classes": list(settings.classes),
        "melanoma": settings.melanoma_class,
        "keratosis": settings.keratosis_class,
    }


def bootstrap_arguments(settings: AucSettings) -> dict:
    return {
        "resamples": settings.bootstrap.resamples,
        "seed": settings.seed,
        "level": settings.bootstrap.level,
    }


def variant_scores(frame: pd.DataFrame, settings: ScoringSettings, variant: str, split: str) -> dict:
    """Every ISIC metric of one variant's predictions on one split, with bootstrap intervals of its AUCs,
    balanced accuracy and Table 6 measures."""
    scoring = scoring_arguments(settings)
    scores = score_predictions(frame, sensitivities=settings.sensitivities, **scoring)
    scores["intervals"] = bootstrap.metric_intervals(frame, **scoring, **bootstrap_arguments(settings))
    scores |= {"variant": variant, "split": split}
    scores["bootstrap"] = asdict(settings.bootstrap) | {"seed": settings.seed, "stratified_by": "true class"}
    log.info(
        "%s on %d %s images: %s",
        variant,
        len(frame),
        split,
        ", ".join(
            f"{name} {metric_value(scores, metric):.3f} {scores['intervals'][metric]}"
            for metric, name in run_headline(**scoring).judged
        ),
    )
    return scores


def evaluate_variant(predictions: str, metrics_path: str, settings: ScoringSettings, variant: str,
                     split: str = "test") -> None:
    """Score the ``split`` rows of one predictions table, with bootstrap intervals (variant_scores)."""
    frame = read_predictions(predictions, list(settings.classes), split)
    fileio.write_json(metrics_path, variant_scores(frame, settings, variant, split))


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
    headline: Headline = ISIC2017,
) -> pd.DataFrame:
    """One row per variant: the headline's metrics with interval bounds, specificities, accuracies and
    the paired difference of each headline metric to the baseline (empty for the baseline itself)."""
    rows = []
    for variant, variant_scores in scores.items():
        row = {
            "variant": variant,
            "n_images": variant_scores["n_images"],
            "arch": classifiers[variant]["arch"],
            "pretrained": classifiers[variant]["pretrained"],
        }
        # a class absent from the test set has no AUC, hence no interval: its columns stay empty
        compared = [metric for metric in headline.compared if metric in variant_scores["intervals"]]
        for metric in compared:
            low, high = variant_scores["intervals"][metric]
            column = csv_column(metric)
            row |= {column: metric_value(variant_scores, metric), f"{column}_low": low, f"{column}_high": high}
        for target in sensitivities:
            row[f"spec_{target:.2f}"] = variant_scores["specificity_at_sensitivity"][f"{target:.2f}"]
        row |= {
            "accuracy": variant_scores["accuracy"],
            "balanced_accuracy": variant_scores["balanced_accuracy"],
        }
        for metric in compared:
            if metric in differences.get(variant, {}):
                row |= difference_columns(csv_column(metric), differences[variant][metric])
        rows.append(row)
    return pd.DataFrame(rows)


def difference_columns(column: str, difference: Mapping) -> dict:
    """One paired difference (bootstrap.paired_differences) as comparison.csv's columns for ``column``."""
    return {
        f"{column}_diff": difference["difference"],
        f"{column}_diff_low": difference["interval"][0],
        f"{column}_diff_high": difference["interval"][1],
        f"{column}_share_not_better": difference["share_not_better"],
    }


def difference_text(row: Mapping, column: str) -> str:
    """A row's paired difference for ``column`` as the tables show it: signed, with its interval."""
    low, high = row[f"{column}_diff_low"], row[f"{column}_diff_high"]
    return f"{row[f'{column}_diff']:+.3f} [{low:+.3f}, {high:+.3f}]"


def verdict(baseline: str, proposed: str, difference: Mapping, metric_name: str, level: float) -> str:
    """One sentence: does ``proposed`` beat ``baseline`` on this metric, by the paired bootstrap interval?"""
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


def summary_rows(
    table: pd.DataFrame, sensitivities, split: str = "test", headline: Headline = ISIC2017
) -> pd.DataFrame:
    """The Markdown/HTML table: our variants with intervals, then the paper's rows, clearly labelled.

    ``table``: comparison_table's; its columns follow ``headline``.
    """
    spec_columns = {f"spec_{target:.2f}": f"{SPEC_LABEL}{target:.0%}" for target in sensitivities}

    def our_cells(row, column: Column) -> dict[str, str]:
        name = csv_column(column.metric)
        if column.kind == "specificities":
            return {label: f"{row[key]:.3f}" for key, label in spec_columns.items()}
        if column.kind == "difference":
            if pd.isna(row.get(f"{name}_diff")):
                return {column.header: ""}
            return {column.header: difference_text(row, name)}
        if pd.isna(row.get(name)):
            return {column.header: ""}
        interval = f" [{row[f'{name}_low']:.3f}, {row[f'{name}_high']:.3f}]" if column.kind == "interval" else ""
        return {column.header: f"{row[name]:.3f}{interval}"}

    def paper_cells(row, column: Column) -> dict[str, str]:
        if column.kind == "specificities":
            return {label: f"{row[key]:.3f}" if key in row else "" for key, label in spec_columns.items()}
        shown = column.kind != "difference" and column.metric in row
        return {column.header: f"{row[column.metric]:.3f}" if shown else ""}

    ours = [
        {
            "model": f"{row['variant']} ({model_description(row['arch'], row['pretrained'])})",
            "source": f"this run ({split} split)",
        }
        | {header: cell for column in headline.columns for header, cell in our_cells(row, column).items()}
        for _, row in table.iterrows()
    ]
    paper = [
        {"model": row["model"], "source": headline.paper_source}
        | {header: cell for column in headline.columns for header, cell in paper_cells(row, column).items()}
        for row in headline.paper_rows
    ]
    return pd.DataFrame(ours + paper)


def summary_texts(
    scores: Mapping[str, dict],
    differences: Mapping[str, dict],
    classifiers: Mapping[str, dict],
    settings: ComparisonSettings,
    split: str = "test",
    over_floor: Mapping[str, dict] | None = None,
    test_time: Mapping[str, dict] | None = None,
) -> list[str]:
    """The verdict sentences and any warnings, in the order the summary shows them. ``over_floor``: each
    deep variant's paired differences to the classical floor, which every deep model must beat;
    ``test_time``: each variant's paired differences from purifying its test inputs (the paper's Table 6)."""
    baseline, proposed, level = settings.baseline, settings.proposed, settings.bootstrap.level
    headline = run_headline(**scoring_arguments(settings))
    n_images = scores[baseline]["n_images"]
    texts = [
        f"Bootstrap: {settings.bootstrap.resamples} resamples stratified by true class, paired across "
        f"variants, seed {settings.seed}; {n_images} {split} images."
    ]
    if split == "val":
        texts.append(
            "The validation split chose each classifier's epoch (and the classical floor's regularisation): "
            "these numbers are optimistic; the test split decides."
        )
    if proposed in differences:
        texts += [
            verdict(baseline, proposed, differences[proposed][metric], name, level)
            for metric, name in headline.judged
        ]
    for variant, floor_differences in (over_floor or {}).items():
        texts += [
            verdict(CLASSICAL_FLOOR, variant, floor_differences[metric], name, level)
            for metric, name in headline.judged
        ]
    for variant, purified_differences in (test_time or {}).items():
        texts += [
            verdict(variant, f"{variant}{TEST_PURIFIED}", purified_differences[metric], name, level)
            for metric, name in headline.judged
        ]
    texts += [
        f"Warning: classifier {variant!r} was trained without ImageNet weights (pretrained: false); the "
        "paper fine-tunes ImageNet weights."
        for variant, meta in classifiers.items()
        if meta["pretrained"] is False
    ]
    texts += [*headline.notes, headline.paper_note]
    return texts


def compare_variants(
    predictions: Mapping[str, str],
    metrics: Mapping[str, str] | None,
    checkpoints: Mapping[str, str],
    outputs: Mapping[str, str],
    settings: ComparisonSettings,
    split: str = "test",
    splits: str | None = None,
) -> None:
    """Paired comparison of every variant with the baseline on ``split``; writes ``outputs``: table (CSV),
    markdown, and where named html, roc and confusion (figures) and front_page (the report's landing page,
    which says where the splits came from when ``splits`` names the ingest's splits.json). ``metrics``
    are the variants' metrics files (None: scored here). ``checkpoints`` are the variants' classifiers,
    read for how they were initialised (the summary warns where ImageNet weights were missing)."""
    scoring = scoring_arguments(settings)
    headline = run_headline(**scoring)
    frames = {variant: read_predictions(path, scoring["classes"], split) for variant, path in predictions.items()}
    if metrics is None:
        scores = {variant: variant_scores(frame, settings, variant, split) for variant, frame in frames.items()}
    else:
        scores = {variant: json.loads(Path(path).read_text()) for variant, path in metrics.items()}
    baseline = settings.baseline
    if baseline not in frames or settings.proposed not in frames:
        raise ValueError(
            f"baseline {baseline!r} and proposed {settings.proposed!r} must be among the evaluated "
            f"variants {list(frames)}"
        )
    keys = ["dataset", "image_id", "label"]
    for variant, frame in frames.items():
        if not frame[keys].equals(frames[baseline][keys]):
            raise fileio.BadInputError(
                f"{predictions[variant]}: not the same test images and labels as {predictions[baseline]}; "
                "a paired comparison needs both classifiers' predictions on the same images"
            )
    differences = {
        variant: bootstrap.paired_differences(
            frames[baseline], frame, **scoring, **bootstrap_arguments(settings)
        )
        for variant, frame in frames.items()
        if variant != baseline
    }
    over_floor = {
        variant: bootstrap.paired_differences(
            frames[CLASSICAL_FLOOR], frame, **scoring, **bootstrap_arguments(settings)
        )
        for variant, frame in frames.items()
        if CLASSICAL_FLOOR in frames and variant != CLASSICAL_FLOOR
    }
    # the baseline's own purified predictions were already compared with it above, on the same resamples
    test_time = {
        variant: differences[purified]
        if variant == baseline
        else bootstrap.paired_differences(frame, frames[purified], **scoring, **bootstrap_arguments(settings))
        for variant, frame in frames.items()
        if (purified := f"{variant}{TEST_PURIFIED}") in frames
    }
    classifiers = {variant: read_classifier_metadata(path) for variant, path in checkpoints.items()}
    table = comparison_table(scores, differences, classifiers, settings.sensitivities, headline)
    with fileio.atomic_path(outputs["table"]) as tmp:
        table.to_csv(tmp, index=False)
    rows = summary_rows(table, settings.sensitivities, split, headline)
    texts = summary_texts(scores, differences, classifiers, settings, split, over_floor, test_time)
    for text in texts:
        log.info("%s", text)
    fileio.write_text(
        outputs["markdown"],
        rows.to_markdown(index=False, disable_numparse=True) + "\n\n" + "\n\n".join(texts) + "\n",
    )
    if "html" in outputs:
        fileio.write_text(outputs["html"], summary_html(rows, texts, headline))
    if "front_page" in outputs:
        split_summary = json.loads(Path(splits).read_text()) if splits else None
        fileio.write_text(outputs["front_page"], front_page(rows, texts, split_summary, split, headline))
    if "roc" in outputs:
        fileio.write_figure(outputs["roc"], figures.plot_roc_curves(frames, scores, scoring["classes"]))
    if "confusion" in outputs:
        fileio.write_figure(outputs["confusion"], figures.plot_confusion_matrices(scores, scoring["classes"]))


def summary_html(rows: pd.DataFrame, texts: list[str], headline: Headline = ISIC2017) -> str:
    paragraphs = "\n".join(f"<p>{html.escape(text)}</p>" for text in texts)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>melanoflow: classifier comparison</title>"
        "<style>body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}</style></head><body>"
        f"<h2>{html.escape(headline.title)}</h2>"
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
            for name in ("test", UNTRAPPED, "val", "train", UNSCORED)
            if name in parts
        )
        for dataset, parts in splits.items()
    ]


def front_page(
    rows: pd.DataFrame,
    texts: list[str],
    splits: Mapping | None = None,
    split: str = "test",
    headline: Headline = ISIC2017,
) -> str:
    """The report's landing page (reStructuredText; workflow/report/workflow.rst includes it), narrow
    enough for the column beside the workflow graph: the verdict sentences, this run's variants with
    intervals, where the splits came from (``splits``: the ingest's splits.json), and that the paper's
    published rows, beside ours in the full comparison, are other data. ``rows``: summary_rows'."""
    ours = rows.loc[rows["source"] != headline.paper_source]
    specificities = [column for column in rows if column.startswith(SPEC_LABEL)]
    table = ours[["model", *(column.header for column in headline.front_page)]].copy()
    table[SPEC_LABEL + " / ".join(column.removeprefix(SPEC_LABEL) for column in specificities)] = [
        " / ".join(values) for values in ours[specificities].astype(str).to_numpy().tolist()
    ]
    parts = [f"**The answer of this run** (classifiers compared on the {split} split)"]
    parts += [rst_text(text) for text in texts if text != headline.paper_note]
    parts.append(rst_table(table, f"This run, {split} split: {headline.measured} with bootstrap intervals [low, high]"))
    if splits:
        parts.append("**Where the splits came from** (ingest):")
        parts.append("\n".join(f"- {rst_text(line)}" for line in split_lines(splits)))
    parts.append(
        f"The paper's published numbers ({headline.paper_tables}: the {headline.test_set}, models trained on "
        "other data) stand beside these rows in the full comparison (6. Comparison); they are not comparable "
        "measurements of this run."
    )
    return "\n\n".join(parts) + "\n"
