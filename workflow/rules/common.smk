# Config validation, input functions and target lists. No rules here.
import os
from pathlib import Path

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

try:
    from melanoflow.config_checks import ConfigError, check_config

    check_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

RESULTS = config["results"]
# workflow/ (this file is workflow/rules/common.smk), wherever the Snakefile that includes it lives.
WORKFLOW_DIR = Path(str(workflow.current_basedir)).parent
# One environment for every job (`--sdm conda`); it mirrors the pip pins of `make install`.
CONDA_ENV = "../../envs/melanoflow.yaml"
SHARDS = list(range(config["shards"]))
DATASETS = list(config["datasets"])
CLASSES = config["classes"]
DEMO_DIR = config["demo"]["path"] if config["demo"]["enabled"] else None


def demo_archive_files():
    """The files the demo generator writes: the official ISIC 2017 triples, per split."""
    from melanoflow.demo.generate import archive_file_names

    return [f"{DEMO_DIR}/{name}" for name in archive_file_names(config["demo"])]


def dataset_input_files(wildcards):
    """One dataset's archive files, as its ingest job's inputs (generated ones for the demo, else what is
    on disk)."""
    name = wildcards.dataset
    folder = Path(config["datasets"][name]["path"])
    if DEMO_DIR is not None and folder == Path(DEMO_DIR):
        return demo_archive_files()
    trap_flags = (
        [config["datasets"][name]["trap"]["flags"]]
        if "trap" in config["datasets"][name]
        else []
    )
    if folder.exists():
        files = {str(p) for p in folder.iterdir() if not p.name.startswith(".")}
        return sorted(files | {os.path.normpath(path) for path in trap_flags})
    raise WorkflowError(
        f"dataset {name!r}: folder {folder} does not exist; put the official archives there "
        "(see README.md) or run the demo with --configfile config/demo.yaml"
    )


def gpu_jobs(device):
    """The `gpu` resource of a job that runs on `device`: 1 on CUDA (`cuda`, `cuda:N`); 0 on the CPU and
    for `auto`, which is not counted against --resources gpu (docs/scaling.md)."""
    return 1 if device.startswith("cuda") else 0


def section_settings(section, *keys):
    """The named settings of a config section: exactly what one rule reads, so that changing any other
    setting does not rerun it."""
    return {key: config[section][key] for key in keys}


def section_seed(section):
    """The seed of a section's draws: its own `seed` where it sets one (classification: the classifiers
    repeated with other draws on the same splits and images), else the run's."""
    own = config[section].get("seed")
    return config["seed"] if own is None else own


def job_settings(section, *keys):
    """The named keys of a config section with its seed (section_seed) and the run's classes, as the
    from_config of a job's settings takes them (``<section>=``, ``seed=``, ``classes=``): exactly what one
    rule reads (section_settings)."""
    return {
        section: section_settings(section, *keys),
        "seed": section_seed(section),
        "classes": CLASSES,
    }


# What segmentation training and inference read of the segmentation section.
from melanoflow.segmentation.settings import (
    PREDICTION_KEYS as SEGMENTATION_PREDICTION_KEYS,
    TRAINING_JOB_KEYS as SEGMENTATION_TRAINING_KEYS,
)


def script_code(script):
    """The package modules that workflow/scripts/<script>.py imports, directly or not, as the rule's
    `code` input: editing one reruns exactly the rules that run it (and what follows).

    Paths inside the working directory are relative, so that a project moved with its results/ (or
    mounted elsewhere on a cluster) keeps its input sets and plans no rerun; code outside it (`-d` to
    another folder) is named by absolute path, so that moving only the results does not either.
    """
    from melanoflow.provenance import package_modules

    scripts = WORKFLOW_DIR / "scripts"
    package = WORKFLOW_DIR.parent / "src" / "melanoflow"
    if not package.is_dir():  # an installed package rather than a checkout
        import melanoflow

        package = Path(melanoflow.__file__).parent
    paths = [
        os.path.relpath(path)
        for path in package_modules(scripts / f"{script}.py", package)
    ]
    return [
        path if not path.startswith("..") else os.path.abspath(path) for path in paths
    ]


# --- targets per stage: each stage adds its own function and lists it in all_targets() ---


def ingest_targets():
    return [
        f"{RESULTS}/manifests/images.parquet",
        f"{RESULTS}/manifests/class_counts.png",
    ]


# synthesis: GANs are named by their class (decoupled) or "coupled" (one model for every class).
SYNTHETIC_CLASSES = list(config["synthesis"]["samples"])
# Deduplication and the figures compare samples with real images at the GANs' resolution.
GAN_RESOLUTION = config["synthesis"]["gan"]["resolution"]
GAN_NAMES = (
    ["coupled"] if config["synthesis"]["mode"] == "coupled" else SYNTHETIC_CLASSES
)


def synthesis_real_inputs(wildcards=None):
    """The image manifest, plus the purification table when `use_purified` is on and a rule makes it."""
    inputs = {"manifest": f"{RESULTS}/manifests/images.parquet"}
    purified = f"{RESULTS}/purified/occlusions.parquet"
    if config["synthesis"]["use_purified"] and any(
        purified in map(str, rule.output) for rule in workflow.rules
    ):
        inputs["purified"] = purified
    return inputs


def synthesis_gan_classes(wildcards):
    """The classes one GAN model is trained for."""
    return SYNTHETIC_CLASSES if wildcards.gan == "coupled" else [wildcards.gan]


def synthesis_model(wildcards):
    """The GAN model that generates images of class `cls`."""
    name = "coupled" if config["synthesis"]["mode"] == "coupled" else wildcards.cls
    return f"{RESULTS}/models/gan/{name}.pt"


def synthesis_sample_count(wildcards):
    return config["synthesis"]["samples"][wildcards.cls]


def synthesis_settings(*keys):
    """Part of the synthesis section (plus the seed): GAN training does not rerun when dedup settings change."""
    return {"seed": config["seed"], **{key: config["synthesis"][key] for key in keys}}


def synthesis_targets():
    return [
        f"{RESULTS}/synthetic/{cls}/{name}"
        for cls in SYNTHETIC_CLASSES
        for name in (
            "nearest.parquet",
            "summary.json",
            "mse_histogram.png",
            "gallery.png",
            "training.png",
        )
    ]


def segmentation_targets():
    return [
        f"{RESULTS}/segmentation/{name}"
        for name in (
            "masks.parquet",
            "metrics.json",
            "per_image.parquet",
            "overlays.png",
        )
    ]


# purification: the network method needs its trained model; CUDA work declares the gpu resource.
PURIFICATION_GPU = gpu_jobs(config["purification"]["device"])
# The settings each purification method reads: its own section(s), and `device` where a network runs.
from melanoflow.purification.base import (
    METHOD_SETTINGS as PURIFICATION_METHOD_KEYS,
    purifier_keys,
)

# What the configured method's purifier reads; only the network's reads the device (None otherwise, so that
# changing the device reruns nothing).
PURIFIER_KEYS = purifier_keys(config["purification"]["method"])
PURIFIER_DEVICE = (
    config["purification"]["device"]
    if config["purification"]["method"] == "network"
    else None
)


def purifier_network_settings():
    """What training the inpainting network reads: its own and the improved method's sections (whose
    purified images are its targets), the device and the run's seed, as NetworkSettings.from_config takes
    them."""
    return {
        **section_settings("purification", *PURIFICATION_METHOD_KEYS["network"]),
        "seed": config["seed"],
    }


def purification_inputs(wildcards=None):
    """Manifest and predicted lesion masks, plus the trained network when the method is `network`."""
    inputs = {
        "manifest": f"{RESULTS}/manifests/images.parquet",
        "masks": f"{RESULTS}/segmentation/masks.parquet",
    }
    if config["purification"]["method"] == "network":
        inputs["network"] = f"{RESULTS}/models/purifier.pt"
    return inputs


def purification_targets():
    targets = [
        f"{RESULTS}/purified/occlusions.parquet",
        f"{RESULTS}/purified/before_after.png",
    ]
    if DEMO_DIR is not None:
        targets.append(f"{RESULTS}/purified/demo_occlusion_scores.json")
    return targets


# classification: one manifest, cache, classifier and prediction set per configured variant.
VARIANTS = list(config["classification"]["variants"])
CLASSIFICATION_GPU = gpu_jobs(config["classification"]["device"])
# Test-time purification (the paper's Table 6) is switched on in the purification section.
TEST_TIME_PURIFICATION = config["purification"]["test_time"]


def classification_manifest_inputs(wildcards):
    """The image manifest, plus the purification / synthesis tables the variant's recipe uses."""
    variant = config["classification"]["variants"][wildcards.variant]
    inputs = {"images": f"{RESULTS}/manifests/images.parquet"}
    if variant["purified"]:
        inputs["occlusions"] = f"{RESULTS}/purified/occlusions.parquet"
    if variant["synthetic"]:
        inputs["synthetic"] = [
            f"{RESULTS}/synthetic/{cls}/nearest.parquet" for cls in SYNTHETIC_CLASSES
        ]
    return inputs


LESION_CROP = config["classification"]["lesion_crop"]
# What each classification job reads of the classification section (its settings class's keys).
from melanoflow.classification.settings import (
    FLOOR_KEYS as CLASSICAL_FLOOR_KEYS,
    MANIFEST_KEYS as CLASSIFICATION_MANIFEST_KEYS,
    PREDICTION_KEYS as CLASSIFIER_PREDICTION_KEYS,
    TRAINING_JOB_KEYS as CLASSIFIER_TRAINING_KEYS,
)


def classification_manifest_params(wildcards):
    """A variant's manifest reads its own recipe only: editing another variant's recipe reruns nothing here."""
    settings = job_settings("classification", *CLASSIFICATION_MANIFEST_KEYS)
    recipe = config["classification"]["variants"][wildcards.variant]
    settings["classification"]["variants"] = {wildcards.variant: recipe}
    return settings


def classical_floor_settings():
    """What the classical floor reads of its section (not `enabled`, which decides whether it runs at all),
    with the run's seed and classes, as FloorSettings.from_config takes them."""
    floor = config["classification"]["classical_floor"]
    return {
        "classical_floor": {key: floor[key] for key in CLASSICAL_FLOOR_KEYS},
        "seed": config["seed"],
        "classes": CLASSES,
    }


def lesion_masks(wildcards=None):
    """The predicted lesion masks, for jobs that crop images around the lesion (`lesion_crop`)."""
    return (
        {"masks": f"{RESULTS}/segmentation/masks.parquet"}
        if LESION_CROP is not None
        else {}
    )


def classification_weights(wildcards=None):
    """The configured ImageNet weights file (so a missing file stops the DAG early), or nothing.

    A torchvision weights name (IMAGENET1K_V2, ResNet50_Weights.IMAGENET1K_V2: one word, no folder or
    suffix, not an existing file) is no input file: the training job looks it up in the torch hub cache
    itself, and says where to put the file, or which names are valid, when that fails.
    """
    import re

    weights = config["classification"]["weights"]
    if not weights:
        return []
    if re.fullmatch(r"(\w+_Weights\.)?\w+", weights) and not Path(weights).exists():
        return []
    return [weights]


def classification_targets():
    targets = []
    for variant in VARIANTS:
        targets += [
            f"{RESULTS}/manifests/examples.{variant}.counts.png",
            f"{RESULTS}/classify/{variant}/history.png",
            f"{RESULTS}/predictions/{variant}.parquet",
        ]
        if TEST_TIME_PURIFICATION:
            targets.append(f"{RESULTS}/predictions/{variant}.test_purified.parquet")
    return targets


CLASSICAL_FLOOR = "classical_floor"


def classifier_checkpoint(prediction_set):
    """The model behind a prediction set: `<variant>.test_purified` comes from `<variant>`'s classifier."""
    if prediction_set == CLASSICAL_FLOOR:
        return f"{RESULTS}/models/{CLASSICAL_FLOOR}.json"
    return f"{RESULTS}/models/classifier.{prediction_set.split('.')[0]}.pt"


# Every classifier's predictions are scored, and its predictions on purified test images when made, and
# the classical floor's when it is enabled.
EVALUATED = (
    VARIANTS
    + [f"{name}.test_purified" for name in VARIANTS if TEST_TIME_PURIFICATION]
    + (
        [CLASSICAL_FLOOR]
        if config["classification"]["classical_floor"]["enabled"]
        else []
    )
)
EVALUATED_CLASSIFIERS = [classifier_checkpoint(name) for name in EVALUATED]
# Variants scored on the validation split as well (test-time purification predicts test images only).
VALIDATED = [name for name in EVALUATED if not name.endswith(".test_purified")]
EXPLAINED = config["evaluation"]["vbp"]["variants"]
# What each evaluation rule reads of the evaluation section (their settings classes' keys).
from melanoflow.evaluation.settings import (
    AUC_KEYS,
    COMPARISON_KEYS,
    SCORING_KEYS,
    TRAP_DROP_KEYS,
)

ARTEFACT_FLAGS = config["evaluation"]["artefacts"]["flags"]
# Datasets split as traps (datasets.<name>.trap): their runs also measure the AUC drop on reversal.
TRAPS = {
    name: dataset["trap"]
    for name, dataset in config["datasets"].items()
    if dataset.get("split") == "trap"
}
COUNTERFACTUAL = config["evaluation"]["artefacts"]["counterfactual"]


def artefact_flag_inputs(wildcards=None):
    """The flag CSVs (dataset -> path), or the purify stage's detection when no dataset has flags."""
    if ARTEFACT_FLAGS:
        return {"flags": list(ARTEFACT_FLAGS.values())}
    return {"occlusions": f"{RESULTS}/purified/occlusions.parquet"}


def counterfactual_model_inputs(wildcards=None):
    """The run's prediction settings, segmenter, purifier network (method network) and listed classifiers."""
    inputs = {
        "settings": f"{RESULTS}/models/predict.json",
        "segmenter": f"{RESULTS}/models/segmenter.pt",
        "classifiers": [
            f"{RESULTS}/models/classifier.{name}.pt"
            for name in COUNTERFACTUAL["variants"]
        ],
    }
    if config["purification"]["method"] == "network":
        inputs["network"] = f"{RESULTS}/models/purifier.pt"
    return inputs


# The artefact checks read the purify stage's detection threshold only when no dataset has flags.
ARTEFACT_DETECTION_THRESHOLD = (
    None if ARTEFACT_FLAGS else config["purification"]["select_threshold"]
)


def artefact_targets():
    targets = [
        f"{RESULTS}/reports/artefacts/strata.csv",
        f"{RESULTS}/reports/artefacts/strata.png",
    ]
    if TRAPS:
        targets += [
            f"{RESULTS}/reports/artefacts/{name}"
            for name in ("trap.csv", "trap_association.csv", "trap.md", "trap.png")
        ]
    if COUNTERFACTUAL["enabled"]:
        targets += [
            f"{RESULTS}/reports/artefacts/counterfactual.csv",
            f"{RESULTS}/reports/artefacts/counterfactual.png",
        ]
    return targets


def evaluation_targets():
    return [
        f"{RESULTS}/reports/{name}"
        for name in (
            "comparison.csv",
            "comparison.md",
            "comparison.html",
            "roc.png",
            "confusion.png",
            "occlusion_reliance.png",
            "occlusion_reliance.csv",
            "validation/comparison.csv",
            "validation/comparison.md",
        )
    ] + [f"{RESULTS}/reports/{variant}/vbp_cases.png" for variant in EXPLAINED]


# prediction on new images (`snakemake predict`): the models of `predict_variant` and the run's settings.
PREDICT_SUMMARY_FILES = (
    "predictions.csv",
    "submission.csv",
    "details.csv",
    "skipped.csv",
    "run.json",
    "index.html",
)


def predict_run_settings():
    from melanoflow.predict.settings import run_settings

    return run_settings(config)


def predict_model_inputs(wildcards):
    inputs = {
        "settings": f"{RESULTS}/models/predict.json",
        "segmenter": f"{RESULTS}/models/segmenter.pt",
        "classifier": f"{RESULTS}/models/classifier.{config['predict_variant']}.pt",
    }
    if config["purification"]["method"] == "network":
        inputs["network"] = f"{RESULTS}/models/purifier.pt"
    return inputs


def predict_input(wildcards):
    if "predict_input" not in config:
        raise WorkflowError(
            "snakemake predict needs the images: --config predict_input=FOLDER (or a zip, or one image)"
        )
    return config["predict_input"]


def unscored_parts():
    """{prediction folder: input archive} of the archive parts without ground truth, which ingest leaves
    out: the run predicts them with the predict command's settings, and nothing scores them.
    """
    from melanoflow.ingest.archive import Limits
    from melanoflow.ingest.build import unscored_predictions_dir
    from melanoflow.ingest.readers import isic2018_unscored_inputs

    limits = Limits(
        config["ingest"]["max_uncompressed_bytes"],
        config["ingest"]["max_compression_ratio"],
    )
    return {
        unscored_predictions_dir(Path(RESULTS), name, part): str(part)
        for name, dataset in config["datasets"].items()
        if dataset["format"] == "isic2018_task3"
        for part in isic2018_unscored_inputs(Path(dataset["path"]), limits)
    }


UNSCORED_PARTS = unscored_parts()


def all_targets():
    return (
        list(UNSCORED_PARTS)
        + ingest_targets()
        + segmentation_targets()
        + purification_targets()
        + synthesis_targets()
        + classification_targets()
        + evaluation_targets()
        + artefact_targets()
        + [f"{RESULTS}/models/predict.json"]
    )
