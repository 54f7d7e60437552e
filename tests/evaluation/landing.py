"""What the report's landing page must show of a run: its verdict and its comparison table's numbers."""

from pathlib import Path

import pandas as pd

VERDICT_STARTS = ("Melanoma ROC AUC:", "Mean ROC AUC:")


def table_numbers(table: pd.DataFrame, sensitivities=(0.82, 0.89, 0.95)) -> list[str]:
    """Each variant's numbers of ``table`` (comparison.csv) as the front page shows them: melanoma and
    mean AUC with interval, the paired melanoma AUC difference to the baseline with interval, the
    specificities at the target sensitivities."""
    numbers = []
    for _, row in table.iterrows():
        for metric in ("melanoma_auc", "mean_auc"):
            numbers.append(f"{row[metric]:.3f} [{row[f'{metric}_low']:.3f}, {row[f'{metric}_high']:.3f}]")
        if not pd.isna(row["melanoma_auc_diff"]):
            diff, low, high = (row[f"melanoma_auc_diff{end}"] for end in ("", "_low", "_high"))
            numbers.append(f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]")
        numbers.append(" / ".join(f"{row[f'spec_{target:.2f}']:.3f}" for target in sensitivities))
    return numbers


def run_expectations(workdir: Path) -> list[str]:
    """What the landing page of ``workdir``'s report must contain: the verdict sentences of its
    comparison.md and every variant's numbers in its comparison.csv."""
    reports = Path(workdir) / "results" / "reports"
    verdicts = [
        line for line in (reports / "comparison.md").read_text().splitlines() if line.startswith(VERDICT_STARTS)
    ]
    # proposed against the baseline, and (with the classical floor) every deep variant against the floor
    assert sum("minus baseline" in line for line in verdicts) == 2, verdicts
    return verdicts + table_numbers(pd.read_csv(reports / "comparison.csv"))
