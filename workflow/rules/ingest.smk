# Official archives -> results/manifests/images.parquet (+ quarantine) and extracted images/masks.


rule ingest:
    input:
        dataset_input_files,
    output:
        manifest=f"{RESULTS}/manifests/images.parquet",
        quarantine=f"{RESULTS}/manifests/quarantine.parquet",
        images=directory(f"{RESULTS}/images"),
    log:
        f"{RESULTS}/logs/ingest.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest.tsv"
    threads: 2
    params:
        datasets=config["datasets"],
        classes=CLASSES,
        settings=config["ingest"],
        seed=config["seed"],
    conda:
        CONDA_ENV
    script:
        "../scripts/ingest.py"


rule manifest_summary:
    input:
        manifest=rules.ingest.output.manifest,
    output:
        figure=report(
            f"{RESULTS}/manifests/class_counts.png",
            caption="../report/class_counts.rst",
            category="1. Data",
        ),
    params:
        classes=CLASSES,
    log:
        f"{RESULTS}/logs/manifest_summary.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/manifest_summary.py"
