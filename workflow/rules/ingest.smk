# Official archives -> results/manifests/images.parquet (+ quarantine) and extracted images/masks.


rule ingest:
    input:
        dataset_input_files,
        code=script_code("ingest"),
    output:
        manifest=f"{RESULTS}/manifests/images.parquet",
        quarantine=f"{RESULTS}/manifests/quarantine.parquet",
        splits=f"{RESULTS}/manifests/splits.json",
        images=directory(f"{RESULTS}/images"),
    log:
        f"{RESULTS}/logs/ingest.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest.tsv"
    conda:
        CONDA_ENV
    threads: 2
    params:
        datasets=config["datasets"],
        classes=CLASSES,
        settings=config["ingest"],
        seed=config["seed"],
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
