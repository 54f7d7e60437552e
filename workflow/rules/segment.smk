# Lesion segmentation (paper Section 3.2.3): train the dilated U-Net, mask every image, score the masks.


rule segment_train:
    input:
        manifest=f"{RESULTS}/manifests/images.parquet",
        code=script_code("segment_train"),
    output:
        model=f"{RESULTS}/models/segmenter.pt",
        history=f"{RESULTS}/segmentation/training_history.csv",
    log:
        f"{RESULTS}/logs/segment/train.log",
    benchmark:
        f"{RESULTS}/benchmarks/segment/train.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=gpu_jobs(config["segmentation"]["device"]),
    params:
        settings={
            "section": section_settings("segmentation", *SEGMENTATION_TRAINING_KEYS),
            "seed": config["seed"],
        },
    script:
        "../scripts/segment_train.py"


rule segment_predict:
    input:
        manifest=f"{RESULTS}/manifests/images.parquet",
        model=rules.segment_train.output.model,
        code=script_code("segment_predict"),
    output:
        table=f"{RESULTS}/segmentation/shards/{{shard}}.parquet",
        masks=directory(f"{RESULTS}/masks/{{shard}}"),
    log:
        f"{RESULTS}/logs/segment/predict_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/segment/predict_{{shard}}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=gpu_jobs(config["segmentation"]["device"]),
    params:
        settings=section_settings("segmentation", *SEGMENTATION_PREDICTION_KEYS),
        device=config["segmentation"]["device"],
        shards=config["shards"],
    script:
        "../scripts/segment_predict.py"


rule segment_merge:
    input:
        shards=expand(f"{RESULTS}/segmentation/shards/{{shard}}.parquet", shard=SHARDS),
        code=script_code("segment_merge"),
    output:
        f"{RESULTS}/segmentation/masks.parquet",
    log:
        f"{RESULTS}/logs/segment/merge.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/segment_merge.py"


rule segment_evaluate:
    input:
        manifest=f"{RESULTS}/manifests/images.parquet",
        masks=rules.segment_merge.output[0],
        code=script_code("segment_evaluate"),
    output:
        metrics=f"{RESULTS}/segmentation/metrics.json",
        per_image=f"{RESULTS}/segmentation/per_image.parquet",
        figure=report(
            f"{RESULTS}/segmentation/overlays.png",
            caption="../report/segmentation_overlays.rst",
            category="2. Segmentation",
        ),
    log:
        f"{RESULTS}/logs/segment/evaluate.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/segment_evaluate.py"
