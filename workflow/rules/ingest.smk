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
    script:
        "../scripts/ingest.py"
