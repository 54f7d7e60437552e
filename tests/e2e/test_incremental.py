"""Incremental reruns on a finished tiny run: a change reruns its stage and what follows, nothing before.

Which jobs a change plans is read from `snakemake --dry-run`. "Its stage and everything downstream" is
what `--forcerun <the stage's per-image rule>` plans on the same run; "upstream" is every other rule.
(That an unchanged run plans nothing is test_tiny_run.test_rerun_has_nothing_to_do.)
"""

import re
import shutil
from pathlib import Path

import yaml

from melanoflow.config_files import load_config

from .conftest import DEFAULT_CONFIG, REPO, TINY_CONFIGS, snakemake

# Rules before purification in the DAG: they must never be planned by a purification change.
UPSTREAM_OF_PURIFICATION = {"demo_archives", "ingest_dataset", "ingest", "manifest_summary", "segment_train",
                            "segment_predict"}


def planned_rules(workdir: Path, *args: str) -> set[str]:
    """The rules `snakemake --dry-run` would run (from its job-stats table); empty when nothing."""
    result = snakemake(workdir, "--dry-run", *args)
    output = result.stdout + result.stderr
    if "Nothing to be done" in output:
        return set()
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in table.strip().splitlines()[2:]]  # after the header and its rule
    return {row[0] for row in rows if len(row) == 2 and row[0] != "total"}


def planned_jobs(workdir: Path, *args: str) -> set[str]:
    """The jobs `snakemake --dry-run` would run, as `rule` or `rule[wildcards]`."""
    result = snakemake(workdir, "--dry-run", *args)
    jobs, rule, wildcards = set(), None, ""
    for line in (result.stdout + result.stderr).splitlines() + ["rule end:"]:
        started = re.match(r"(?:local)?rule (\w+):$", line.strip())
        if started:
            if rule is not None:
                jobs.add(f"{rule}[{wildcards}]" if wildcards else rule)
            rule, wildcards = started.group(1), ""
        elif line.strip().startswith("wildcards:"):
            wildcards = line.split(":", 1)[1].strip()
    return jobs


def purification_and_downstream(workdir: Path, *args: str) -> set[str]:
    rules = planned_rules(workdir, "--forcerun", "purify_shard", *args)
    assert {"purify_shard", "purify_merge"} <= rules
    assert not rules & UPSTREAM_OF_PURIFICATION
    return rules


def test_changing_a_purification_parameter_reruns_purification_and_what_follows_only(copy_run, tmp_path):
    run = copy_run()
    demo = load_config(TINY_CONFIGS, DEFAULT_CONFIG)
    changed = tmp_path / "changed.yaml"
    threshold = demo["purification"]["improved"]["threshold"]
    changed.write_text(yaml.safe_dump({"purification": {"improved": {"threshold": threshold * 1.5}}}))

    planned = planned_rules(run, "--configfile", *TINY_CONFIGS, str(changed))

    # and the settings that `melanoflow predict` purifies new images with
    assert planned == purification_and_downstream(run) | {"predict_settings"}


def test_changing_an_unused_purification_methods_settings_reruns_nothing(copy_run, tmp_path):
    """The tiny run uses method improved: the paper's, DullRazor's and the network's settings are not read."""
    run = copy_run()
    demo = load_config(TINY_CONFIGS, DEFAULT_CONFIG)["purification"]
    assert demo["method"] == "improved"
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({"purification": {
        "paper": {"threshold": demo["paper"]["threshold"] * 1.5},
        "dullrazor": {"threshold": demo["dullrazor"]["threshold"] + 5},
        "network": {"adam_steps": demo["network"]["adam_steps"] + 1},
        "device": "auto",
    }}))

    # what an unchanged config plans (nothing, see test_tiny_run), so that nothing is added
    assert planned_rules(run, "--configfile", *TINY_CONFIGS, str(changed)) == planned_rules(run)


def copy_of_workflow(target: Path) -> Path:
    """The Snakefile with everything it reads, copied, so that a test can edit a module without touching
    the checkout."""
    target.mkdir()
    shutil.copy2(REPO / "Snakefile", target)
    for folder in ("workflow", "config", "envs", "profiles", "src"):
        shutil.copytree(
            REPO / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    return target


def test_editing_a_module_of_one_stage_reruns_that_stage_and_what_follows_only(copy_run, tmp_path):
    run = copy_run()
    workflow = copy_of_workflow(tmp_path / "workflow")
    use_copy = ("-s", str(workflow / "Snakefile"))
    # The run's records name the checkout's files; make the copy's files its baseline instead.
    snakemake(run, "--touch", *use_copy)
    assert planned_rules(run, *use_copy) == set()
    expected = purification_and_downstream(run, *use_copy)

    module = workflow / "src" / "melanoflow" / "purification" / "classic.py"
    module.write_text(module.read_text() + "\n# an edit\n")

    assert planned_rules(run, *use_copy) == expected


def test_a_project_moved_with_its_results_plans_nothing(copy_run, tmp_path):
    """Code inputs are relative paths: the same commit and results/ in another folder (a moved project, a
    cluster mounting it elsewhere) is up to date, not a changed set of inputs."""
    project = copy_of_workflow(tmp_path / "project")
    for item in copy_run().iterdir():
        shutil.move(item, project / item.name)
    # The run's records name the checkout's files; make the project's own files its baseline instead.
    snakemake(project, "--touch", "-s", str(project / "Snakefile"))
    assert planned_rules(project, "-s", str(project / "Snakefile")) == set()

    moved = tmp_path / "mounted" / "elsewhere" / "project"
    moved.parent.mkdir(parents=True)
    shutil.move(project, moved)

    assert planned_rules(moved, "-s", str(moved / "Snakefile")) == set()


def test_changing_one_variants_recipe_reruns_that_variant_and_the_comparisons_only(copy_run, tmp_path):
    run = copy_run()
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({"classification": {"variants": {"proposed": {"factor": 3}}}}))

    planned = planned_jobs(run, "--configfile", *TINY_CONFIGS, str(changed))

    proposed = {f"{rule}[variant=proposed]" for rule in (
        "classification_manifest", "classification_cache_merge", "classification_train", "classification_predict")}
    assert proposed <= planned
    assert not {job for job in planned if "baseline" in job}  # the baseline is neither retrained nor rescored
    assert {job.split("[")[0] for job in planned} <= {
        "classification_manifest", "classification_cache_shard", "classification_cache_merge",
        "classification_train", "classification_predict", "evaluate_variant", "compare_variants",
        "compare_variants_on_validation", "explain_cases", "occlusion_reliance", "classification_counts_figure",
        "classification_history_figure", "artefact_strata", "counterfactual_insertion", "all"}


def test_another_classifier_seed_retrains_every_variant_on_the_same_splits_and_images(copy_run, tmp_path):
    run = copy_run()
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({"classification": {"seed": 7}}))
    variants = load_config(TINY_CONFIGS, DEFAULT_CONFIG)["classification"]["variants"]

    planned = planned_jobs(run, "--configfile", *TINY_CONFIGS, str(changed))

    assert {f"classification_train[variant={variant}]" for variant in variants} <= planned
    # the splits, masks, purified and synthetic images and the (draw-free) classical floor are kept; the crop
    # caches follow the new manifests (which rows are flipped copies is a draw)
    assert {job.split("[")[0] for job in planned} <= {
        "classification_manifest", "classification_cache_shard", "classification_cache_merge", "classification_train",
        "classification_predict", "evaluate_variant", "compare_variants", "compare_variants_on_validation",
        "explain_cases", "occlusion_reliance", "classification_counts_figure", "classification_history_figure",
        "artefact_strata", "counterfactual_insertion", "all"}


def test_evaluation_and_figure_settings_rerun_only_the_rules_that_read_them(copy_run, tmp_path):
    run = copy_run()
    bootstrap, saliency, gallery = (tmp_path / f"{name}.yaml" for name in ("bootstrap", "saliency", "gallery"))
    bootstrap.write_text(yaml.safe_dump({"evaluation": {"bootstrap": {"resamples": 201}}}))
    saliency.write_text(yaml.safe_dump({"evaluation": {"vbp": {"occlusion_images": 3}}}))
    gallery.write_text(yaml.safe_dump({"synthesis": {"figures": {"smallest": 3}}}))

    assert planned_rules(run, "--configfile", *TINY_CONFIGS, str(bootstrap)) == {
        "evaluate_variant", "compare_variants", "compare_variants_on_validation", "artefact_strata",
        "counterfactual_insertion", "all"}
    assert planned_rules(run, "--configfile", *TINY_CONFIGS, str(saliency)) == {
        "explain_cases", "occlusion_reliance", "all"}
    assert planned_rules(run, "--configfile", *TINY_CONFIGS, str(gallery)) == {"synthesis_figures", "all"}


def test_changing_a_prediction_setting_does_not_retrain(copy_run, tmp_path):
    run = copy_run()
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({"classification": {"tta": True}}))
    assert load_config(TINY_CONFIGS, DEFAULT_CONFIG)["classification"]["tta"] is False

    planned = {job.split("[")[0] for job in planned_jobs(run, "--configfile", *TINY_CONFIGS, str(changed))}

    assert "classification_predict" in planned
    assert not planned & {"classification_manifest", "classification_cache_merge", "classification_train"}


def test_deleting_all_output_leaves_only_logs_and_benchmarks(copy_run):
    """Every file a job writes is a declared output (or a log or benchmark), so nothing stale survives."""
    run = copy_run()
    snakemake(run, "--delete-all-output")
    left = sorted(str(path.relative_to(run / "results")) for path in (run / "results").rglob("*") if path.is_file())
    assert left
    assert [path for path in left if not path.startswith(("logs/", "benchmarks/"))] == []


def test_adding_a_dataset_ingests_that_dataset_only(copy_run, tmp_path):
    run = copy_run()
    extra = tmp_path / "dermofit"
    (extra / "MEL").mkdir(parents=True)
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({"datasets": {"dermofit": {
        "format": "folder", "path": str(extra), "labels": {"MEL": "melanoma"}, "split": "train"}}}))

    planned = planned_jobs(run, "--configfile", *TINY_CONFIGS, str(changed))

    assert "ingest_dataset[dataset=dermofit]" in planned and "ingest" in planned
    assert not {job for job in planned if job.startswith(("ingest_dataset[dataset=demo]", "demo_archives"))}
