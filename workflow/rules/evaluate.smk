# Predictions -> ISIC metrics with bootstrap intervals, the comparison with the paper, and
# VisualBackProp figures; every figure and table is declared for `snakemake --report`.


rule evaluate_variant:
    input:
        predictions=f"{RESULTS}/predictions/{{variant}}.parquet",
        code=script_code("evaluation_metrics"),
    output:
        metrics=f"{RESULTS}/reports/{{variant}}/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate/{{variant}}.log",
    wildcard_constraints:
        variant=r"[A-Za-z0-9_]+(\.test_purified)?",
    conda:
        CONDA_ENV
    params:
        settings=job_settings("evaluation", *SCORING_KEYS),
    script:
        "../scripts/evaluation_metrics.py"


rule compare_variants:
    input:
        predictions=expand(
            f"{RESULTS}/predictions/{{variant}}.parquet", variant=EVALUATED
        ),
        metrics=expand(f"{RESULTS}/reports/{{variant}}/metrics.json", variant=EVALUATED),
        classifiers=EVALUATED_CLASSIFIERS,
        splits=f"{RESULTS}/manifests/splits.json",
        code=script_code("evaluation_compare"),
    output:
        table=report(
            f"{RESULTS}/reports/comparison.csv",
            caption="../report/evaluation_comparison_table.rst",
            category="6. Comparison",
            subcategory="Test split",
        ),
        markdown=f"{RESULTS}/reports/comparison.md",
        front_page=f"{RESULTS}/reports/front_page.rst",
        html=report(
            f"{RESULTS}/reports/comparison.html",
            caption="../report/evaluation_comparison.rst",
            category="6. Comparison",
            subcategory="Test split",
        ),
        roc=report(
            f"{RESULTS}/reports/roc.png",
            caption="../report/evaluation_roc.rst",
            category="6. Comparison",
            subcategory="Test split",
        ),
        confusion=report(
            f"{RESULTS}/reports/confusion.png",
            caption="../report/evaluation_confusion.rst",
            category="6. Comparison",
            subcategory="Test split",
        ),
    log:
        f"{RESULTS}/logs/evaluate/compare.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/compare.tsv"
    conda:
        CONDA_ENV
    params:
        settings=job_settings("evaluation", *COMPARISON_KEYS),
        variants=EVALUATED,
    script:
        "../scripts/evaluation_compare.py"


rule compare_variants_on_validation:
    input:
        predictions=expand(
            f"{RESULTS}/predictions/{{variant}}.parquet", variant=VALIDATED
        ),
        classifiers=[classifier_checkpoint(name) for name in VALIDATED],
        code=script_code("evaluation_compare_validation"),
    output:
        table=report(
            f"{RESULTS}/reports/validation/comparison.csv",
            caption="../report/evaluation_validation_table.rst",
            category="6. Comparison",
            subcategory="Validation split",
        ),
        markdown=f"{RESULTS}/reports/validation/comparison.md",
    log:
        f"{RESULTS}/logs/evaluate/compare_validation.log",
    conda:
        CONDA_ENV
    params:
        settings=job_settings("evaluation", *COMPARISON_KEYS),
        variants=VALIDATED,
    script:
        "../scripts/evaluation_compare_validation.py"


rule explain_cases:
    input:
        unpack(lesion_masks),
        classifier=f"{RESULTS}/models/classifier.{{variant}}.pt",
        predictions=f"{RESULTS}/predictions/{{variant}}.parquet",
        images=f"{RESULTS}/manifests/images.parquet",
        code=script_code("evaluation_vbp_cases"),
    output:
        figure=report(
            f"{RESULTS}/reports/{{variant}}/vbp_cases.png",
            caption="../report/evaluation_vbp_cases.rst",
            category="7. Explanations",
            labels={"figure": "TP / FP / FN / TN", "classifier": "{variant}"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/vbp_cases.{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/vbp_cases.{{variant}}.tsv"
    wildcard_constraints:
        variant=r"[A-Za-z0-9_]+",
    conda:
        CONDA_ENV
    resources:
        gpu=gpu_jobs(config["evaluation"]["vbp"]["device"]),
    params:
        classes=CLASSES,
        vbp=config["evaluation"]["vbp"],
    script:
        "../scripts/evaluation_vbp_cases.py"


rule occlusion_reliance:
    input:
        unpack(lesion_masks),
        classifiers=expand(
            f"{RESULTS}/models/classifier.{{variant}}.pt", variant=EXPLAINED
        ),
        occlusions=f"{RESULTS}/purified/occlusions.parquet",
        images=f"{RESULTS}/manifests/images.parquet",
        code=script_code("evaluation_occlusion_reliance"),
    output:
        figure=report(
            f"{RESULTS}/reports/occlusion_reliance.png",
            caption="../report/evaluation_occlusion_reliance.rst",
            category="7. Explanations",
            labels={"figure": "saliency on occlusions", "classifier": "all"},
        ),
        table=report(
            f"{RESULTS}/reports/occlusion_reliance.csv",
            caption="../report/evaluation_occlusion_table.rst",
            category="7. Explanations",
            labels={"figure": "saliency on occlusions (table)", "classifier": "all"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/occlusion_reliance.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/occlusion_reliance.tsv"
    conda:
        CONDA_ENV
    resources:
        gpu=gpu_jobs(config["evaluation"]["vbp"]["device"]),
    params:
        vbp=config["evaluation"]["vbp"],
        variants=EXPLAINED,
    script:
        "../scripts/evaluation_occlusion_reliance.py"
