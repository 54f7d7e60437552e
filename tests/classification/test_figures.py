"""The classification figures are drawn from the tables the stage writes, by their own rules."""

import pandas as pd
import pytest

from melanoflow.classification.figures import draw_history

# The columns classification.train writes to history.csv.
HISTORY_COLUMNS = ["epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_mean_auc",
                   "seconds", "train_images_per_s"]


def test_the_history_figure_is_drawn_from_the_history_table(tmp_path):
    history = pd.DataFrame([[epoch, 1e-3, 1.0 / epoch, 0.5, 1.1, 0.4, 0.6, 10.0, 50.0] for epoch in (1, 2, 3)],
                           columns=HISTORY_COLUMNS)  # fmt: skip
    history.to_csv(tmp_path / "history.csv", index=False)
    draw_history(str(tmp_path / "history.csv"), str(tmp_path / "history.png"), "baseline", "resnet18", None)
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"

    history.drop(columns="val_mean_auc").to_csv(tmp_path / "old.csv", index=False)
    with pytest.raises(KeyError, match="val_mean_auc"):
        draw_history(str(tmp_path / "old.csv"), str(tmp_path / "old.png"), "baseline", "resnet18", None)
    assert not (tmp_path / "old.png").exists()
