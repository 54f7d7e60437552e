"""A finished run's models and the settings its inference used, found by the ``results`` folder.

The workflow writes ``results/models/predict.json`` (rule ``predict_settings``, see predict.settings): the
classes, the segmenter's post-processing, the purification method with its settings, and the classifier's
prediction settings, exactly as the run's own evaluation applied them. Predicting new images with these
gives what the run would have given for them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from melanoflow.fileio import BadInputError
from melanoflow.predict.settings import RunSettings

SETTINGS_FILE = "models/predict.json"


class MissingArtefactError(FileNotFoundError):
    """A model or settings file of the run is absent; the message names it and the command that makes it."""


@dataclass(frozen=True)
class RunArtefacts:
    """The files of one run that predicting with one of its classifier variants reads."""

    results: Path
    variant: str
    settings: RunSettings

    @property
    def segmenter(self) -> Path:
        return self.results / "models" / "segmenter.pt"

    @property
    def classifier(self) -> Path:
        return self.results / "models" / f"classifier.{self.variant}.pt"

    @property
    def purifier_network(self) -> Path | None:
        network = self.settings.purification.purifier.method == "network"
        return self.results / "models" / "purifier.pt" if network else None


def missing(path: Path, results: Path, what: str) -> MissingArtefactError:
    # a results folder given relative to the project is the target's own prefix (config `results`)
    target = path if not path.is_absolute() else Path("results") / path.relative_to(results)
    return MissingArtefactError(
        f"{path} is missing ({what}). Make it in the project that made this run with: "
        f"snakemake --configfile <the run's config> {target.as_posix()} (or run the whole workflow)"
    )


def read_run_settings(results: str | os.PathLike) -> RunSettings:
    """The settings the run in ``results`` saved; MissingArtefactError where it saved none."""
    results = Path(results)
    settings_path = results / SETTINGS_FILE
    if not settings_path.is_file():
        raise missing(settings_path, results, "the run's prediction settings")
    try:
        return RunSettings.from_config(json.loads(settings_path.read_text()))
    except ValueError as error:  # not JSON, or not the keys run_settings writes
        raise BadInputError(f"{settings_path}: {error}") from None


def locate_run(results: str | os.PathLike, variant: str) -> RunArtefacts:
    """The run's settings and model paths for ``variant``; MissingArtefactError for the first file absent."""
    results = Path(results)
    settings = read_run_settings(results)
    settings_path = results / SETTINGS_FILE
    if variant not in settings.variants:
        raise MissingArtefactError(
            f"{settings_path}: this run has no classifier variant {variant!r} (it has {', '.join(settings.variants)})"
        )
    run = RunArtefacts(results, variant, settings)
    for path, what in ((run.segmenter, "the lesion segmenter"), (run.classifier, f"the {variant} classifier"),
                       (run.purifier_network, "the inpainting network")):
        if path is not None and not path.is_file():
            raise missing(path, results, what)
    return run
