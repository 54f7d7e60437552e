# Official archives -> extracted images/masks and a table per dataset -> results/manifests/images.parquet
# (+ quarantine and where each split came from).


# One job per dataset: adding or changing one dataset does not decode the others again.
rule ingest_dataset:
    input:
        dataset_input_files,
        code=script_code("ingest_dataset"),
    output:
        table=f"{RESULTS}/manifests/datasets/{{dataset}}.parquet",
        quarantine=f"{RESULTS}/manifests/datasets/{{dataset}}.quarantine.parquet",
        sources=f"{RESULTS}/manifests/datasets/{{dataset}}.splits.json",
        images=directory(f"{RESULTS}/images/{{dataset}}"),
    log:
        f"{RESULTS}/logs/ingest/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest/{{dataset}}.tsv"
    wildcard_constraints:
        dataset="|".join(DATASETS),
    conda:
        CONDA_ENV
    threads: 2
    params:
        dataset=lambda wildcards: config["datasets"][wildcards.dataset],
        classes=CLASSES,
        settings=config["ingest"],
        seed=config["seed"],
    script:
        "../scripts/ingest_dataset.py"


rule ingest:
    input:
        tables=expand(rules.ingest_dataset.output.table, dataset=DATASETS),
        quarantines=expand(rules.ingest_dataset.output.quarantine, dataset=DATASETS),
        sources=expand(rules.ingest_dataset.output.sources, dataset=DATASETS),
        code=script_code("ingest"),
    output:
        manifest=f"{RESULTS}/manifests/images.parquet",
        quarantine=f"{RESULTS}/manifests/quarantine.parquet",
        splits=f"{RESULTS}/manifests/splits.json",
    log:
        f"{RESULTS}/logs/ingest.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/ingest.py"


rule manifest_summary:
    input:
        manifest=rules.ingest.output.manifest,
        code=script_code("manifest_summary"),
    output:
        figure=report(
            f"{RESULTS}/manifests/class_counts.png",
            caption="../report/class_counts.rst",
            category="1. Data",
        ),
    log:
        f"{RESULTS}/logs/manifest_summary.log",
    conda:
        CONDA_ENV
    params:
        classes=CLASSES,
    script:
        "../scripts/manifest_summary.py"
