# Shortcut checks: AUCs on test images with and without each artefact (human flags, or the purify
# stage's detection), the shortcut floor on the flags alone, and artefacts pasted onto clean images.


rule artefact_strata:
    input:
        unpack(artefact_flag_inputs),
        predictions=expand(
            f"{RESULTS}/predictions/{{variant}}.parquet", variant=EVALUATED
        ),
        images=f"{RESULTS}/manifests/images.parquet",
        code=script_code("evaluation_artefact_strata"),
    output:
        table=report(
            f"{RESULTS}/reports/artefacts/strata.csv",
            caption="../report/artefact_strata_table.rst",
            category="8. Shortcuts",
            labels={"figure": "AUC with / without artefacts (table)"},
        ),
        figure=report(
            f"{RESULTS}/reports/artefacts/strata.png",
            caption="../report/artefact_strata.rst",
            category="8. Shortcuts",
            labels={"figure": "AUC with / without artefacts"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/artefact_strata.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/artefact_strata.tsv"
    conda:
        CONDA_ENV
    params:
        settings=job_settings("evaluation", *AUC_KEYS),
        prediction_sets=EVALUATED,
        flag_datasets=list(ARTEFACT_FLAGS),
        select_threshold=ARTEFACT_DETECTION_THRESHOLD,
    script:
        "../scripts/evaluation_artefact_strata.py"


rule counterfactual_insertion:
    input:
        unpack(artefact_flag_inputs),
        unpack(counterfactual_model_inputs),
        images=f"{RESULTS}/manifests/images.parquet",
        code=script_code("evaluation_counterfactual"),
    output:
        table=report(
            f"{RESULTS}/reports/artefacts/counterfactual.csv",
            caption="../report/artefact_counterfactual_table.rst",
            category="8. Shortcuts",
            labels={"figure": "inserted artefacts (table)"},
        ),
        figure=report(
            f"{RESULTS}/reports/artefacts/counterfactual.png",
            caption="../report/artefact_counterfactual.rst",
            category="8. Shortcuts",
            labels={"figure": "inserted artefacts"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/counterfactual.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/counterfactual.tsv"
    conda:
        CONDA_ENV
    resources:
        gpu=gpu_jobs(COUNTERFACTUAL["device"]),
    params:
        settings=job_settings("evaluation", *AUC_KEYS),
        counterfactual=COUNTERFACTUAL,
        flag_datasets=list(ARTEFACT_FLAGS),
        select_threshold=ARTEFACT_DETECTION_THRESHOLD,
    script:
        "../scripts/evaluation_counterfactual.py"


# Trap splits (a dataset with `split: trap`): how far each classifier falls when the artefact's
# association with the class is reversed.
rule trap_drops:
    input:
        predictions=expand(
            f"{RESULTS}/predictions/{{variant}}.parquet", variant=VALIDATED
        ),
        images=f"{RESULTS}/manifests/images.parquet",
        flags=[trap["flags"] for trap in TRAPS.values()],
        code=script_code("evaluation_trap"),
    output:
        drops=report(
            f"{RESULTS}/reports/artefacts/trap.csv",
            caption="../report/artefact_trap_table.rst",
            category="8. Shortcuts",
            labels={"figure": "trap split: AUC drops (table)"},
        ),
        association=report(
            f"{RESULTS}/reports/artefacts/trap_association.csv",
            caption="../report/artefact_trap_association.rst",
            category="8. Shortcuts",
            labels={"figure": "trap split: association per split"},
        ),
        summary=f"{RESULTS}/reports/artefacts/trap.md",
        figure=report(
            f"{RESULTS}/reports/artefacts/trap.png",
            caption="../report/artefact_trap.rst",
            category="8. Shortcuts",
            labels={"figure": "trap split: AUC drops"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/trap_drops.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/trap_drops.tsv"
    conda:
        CONDA_ENV
    params:
        settings=job_settings("evaluation", *TRAP_DROP_KEYS),
        prediction_sets=VALIDATED,
        traps={
            name: {"artefact": trap["artefact"], "class": trap["class"]}
            for name, trap in TRAPS.items()
        },
    script:
        "../scripts/evaluation_trap.py"
