"""The ``melanoflow`` command. ``melanoflow predict INPUT... --out DIR`` applies a finished run's
segmenter, purifier and classifier to new images (see README.md, "Predict"); ``melanoflow compare REFERENCE
CANDIDATE`` compares two finished runs' classifiers on the same test images (README.md, "Comparing two runs");
``melanoflow pool RESULTS...`` pools runs that repeat the classifiers with other seeds (same section).

Exit status: 0 when every input was predicted (every variant compared), 3 when some were skipped (listed in
DIR/skipped.csv), 1 when nothing could run (a model of the run is missing, or predictions to compare are
missing or do not match), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

# Prediction writes one batch's files while it computes the next, two threads on the cores: OpenMP workers
# that sleep rather than spin while they wait leave the writer its share (bench/bench_predict.py). OpenMP
# reads this once, when torch loads it, so it is set before the first import that loads torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from melanoflow.classification.predict import MAX_TTA_VIEWS  # noqa: E402

EXIT_SKIPPED = 3


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(prog="melanoflow", description=__doc__.split("\n\n")[0])
    actions = command.add_subparsers(dest="command", required=True)
    predict = actions.add_parser(
        "predict", help="segment, purify, classify and explain new dermoscopy images with a finished run's models",
        description="Segment, purify, classify and explain new dermoscopy images with a finished run's models. "
                    "Writes predictions.csv (ISIC 2017 submission format), submission.csv (isic-challenge-scoring's "
                    "header), details.csv, skipped.csv, index.html and per image a mask, purified copy, saliency "
                    "overlay and panel.")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or zips")
    predict.add_argument("--out", required=True, help="output folder (created; files in it are replaced)")
    predict.add_argument("--results", default="results", help="the run's results folder (default: %(default)s)")
    predict.add_argument("--variant", default="proposed", help="classifier variant of the run (default: %(default)s)")
    predict.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    predict.add_argument("--tta", type=int, default=None, choices=range(1, MAX_TTA_VIEWS + 1), metavar="N",
                         help="test-time views averaged: 1 none, 2-4 flips, 5-8 flips and corner crops "
                              "(default: as the run's evaluation, 4 with classification.tta, else 1)")
    compare = actions.add_parser(
        "compare", help="compare two finished runs' classifiers on the same images by a paired bootstrap",
        description="Compare two finished runs (e.g. trained without and with extra data, same test split) "
                    "variant by variant: melanoma and mean AUC of each, and candidate minus reference with a "
                    "paired bootstrap interval on the same images; where both runs scored their masks, the "
                    "segmentation Jaccard too. Prints a Markdown table.")
    compare.add_argument("reference", metavar="REFERENCE", help="the reference run's results folder")
    compare.add_argument("candidate", metavar="CANDIDATE", help="the candidate run's results folder")
    compare.add_argument("--variants", nargs="+", metavar="NAME",
                         help="classifier variants to compare (default: every variant of REFERENCE, and "
                              "classical_floor, with predictions in both runs)")
    add_bootstrap_arguments(compare)
    pool = actions.add_parser(
        "pool", help="pool finished runs that differ only in classification.seed",
        description="Pool finished runs that repeat the classifiers with other seeds (classification.seed; same "
                    "splits and masks): each variant's melanoma and mean AUC averaged over the runs, and its "
                    "paired differences to the baseline and the classical floor, all on the same bootstrap "
                    "resamples of the same images. Prints a Markdown table.")
    pool.add_argument("runs", nargs="+", metavar="RESULTS", help="the runs' results folders")
    pool.add_argument("--variants", nargs="+", metavar="NAME",
                      help="classifier variants to pool (default: every variant of the first run, and "
                           "classical_floor, with predictions in every run)")
    add_bootstrap_arguments(pool)
    return command


def add_bootstrap_arguments(action: argparse.ArgumentParser) -> None:
    action.add_argument("--split", default="test", choices=["test", "val"],
                        help="the split compared (default: %(default)s)")
    action.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default: %(default)s)")
    action.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    action.add_argument("--level", type=float, default=0.95, help="interval level (default: %(default)s)")
    action.add_argument("--out", help="also write the table as CSV to this file")


def main(argv: list[str] | None = None) -> int:
    command = parser()
    arguments = command.parse_args(argv)
    if arguments.command in ("compare", "pool"):
        if arguments.resamples < 1 or not 0 < arguments.level < 1:
            command.error(f"{arguments.command} needs --resamples of at least 1 and a --level between 0 and 1")
        return compare(arguments)
    return predict(arguments)


def compare(arguments: argparse.Namespace) -> int:
    """``compare`` and ``pool``: a table of paired bootstrap comparisons, printed (and written with --out)."""
    from melanoflow.evaluation import run_comparison, seed_pooling
    from melanoflow.fileio import BadInputError, atomic_path
    from melanoflow.predict.artefacts import MissingArtefactError
    from melanoflow.tables import SchemaError

    bootstrap = {"split": arguments.split, "resamples": arguments.resamples, "seed": arguments.seed,
                 "level": arguments.level}
    try:
        if arguments.command == "pool":
            table = seed_pooling.pool_runs(arguments.runs, arguments.variants, **bootstrap)
            text = seed_pooling.markdown(table, arguments.runs, **bootstrap)
        else:
            table = run_comparison.compare_runs(arguments.reference, arguments.candidate, arguments.variants,
                                                **bootstrap)
            segmentation = run_comparison.compare_segmentation(arguments.reference, arguments.candidate, **bootstrap)
            text = run_comparison.markdown(table, arguments.reference, arguments.candidate, **bootstrap,
                                           segmentation=segmentation)
    except (BadInputError, MissingArtefactError, SchemaError) as error:
        print(f"melanoflow {arguments.command}: {error}", file=sys.stderr)
        return 1
    if arguments.out:
        with atomic_path(arguments.out) as tmp:
            table.to_csv(tmp, index=False)
    print(text, end="")
    return 0


def predict(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from melanoflow.predict.artefacts import MissingArtefactError
    from melanoflow.predict.run import predict_inputs, summarise
    from melanoflow.runtime import setup_logging

    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(str(out / "predict.log"))
    logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
    try:
        predicted = predict_inputs(arguments.inputs, out, arguments.results, arguments.variant, arguments.device,
                                   arguments.tta)
    except MissingArtefactError as error:
        logging.getLogger("melanoflow").error("%s", error)
        return 1
    summarise([out], out, predicted.thumbnails)
    skipped = predicted.skipped
    print(f"{out / 'index.html'}: predictions for the images; {len(skipped)} input(s) skipped"
          + (f" (see {out / 'skipped.csv'})" if len(skipped) else ""), file=sys.stderr)
    return EXIT_SKIPPED if len(skipped) else 0


def run() -> None:
    """The console script: ``main``, then an immediate exit once every file and stream is flushed, since
    tearing down the interpreter's torch modules takes about a second on a 2-core machine."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
