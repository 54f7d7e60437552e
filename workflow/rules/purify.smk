# Hair and ruler removal (paper Section 3.2.2 / Supplement 6.1): per-shard purification, the merged
# occlusion table, the before/after figure, and on the demo the score against the drawn occlusions.


wildcard_constraints:
    shard=r"\d+",


if config["purification"]["method"] == "network":

    rule purify_train_network:
        input:
            manifest=f"{RESULTS}/manifests/images.parquet",
            masks=f"{RESULTS}/segmentation/masks.parquet",
            code=script_code("purify_train"),
        output:
            f"{RESULTS}/models/purifier.pt",
        log:
            f"{RESULTS}/logs/purification/train_network.log",
        benchmark:
            f"{RESULTS}/benchmarks/purification/train_network.tsv"
        conda:
            CONDA_ENV
        threads: 2
        resources:
            gpu=PURIFICATION_GPU,
        params:
            settings=purifier_network_settings(),
        script:
            "../scripts/purify_train.py"


rule purify_shard:
    input:
        unpack(purification_inputs),
        code=script_code("purify_shard"),
    output:
        table=f"{RESULTS}/purified/shards/{{shard}}.parquet",
        images=directory(f"{RESULTS}/purified/images/{{shard}}"),
    log:
        f"{RESULTS}/logs/purification/shard_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/purification/shard_{{shard}}.tsv"
    conda:
        CONDA_ENV
    resources:
        gpu=PURIFICATION_GPU,
    params:
        purifier=section_settings("purification", *PURIFIER_KEYS),
        select_threshold=config["purification"]["select_threshold"],
        device=PURIFIER_DEVICE,
        n_shards=config["shards"],
    script:
        "../scripts/purify_shard.py"


rule purify_merge:
    input:
        shards=expand(f"{RESULTS}/purified/shards/{{shard}}.parquet", shard=SHARDS),
        code=script_code("purify_merge"),
    output:
        f"{RESULTS}/purified/occlusions.parquet",
    log:
        f"{RESULTS}/logs/purification/merge.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/purify_merge.py"


rule purify_figure:
    input:
        manifest=f"{RESULTS}/manifests/images.parquet",
        table=f"{RESULTS}/purified/occlusions.parquet",
        code=script_code("purify_figure"),
    output:
        report(
            f"{RESULTS}/purified/before_after.png",
            caption="../report/purification_figure.rst",
            category="3. Purification",
        ),
    log:
        f"{RESULTS}/logs/purification/figure.log",
    conda:
        CONDA_ENV
    params:
        images=config["purification"]["figure_images"],
    script:
        "../scripts/purify_figure.py"


if DEMO_DIR is not None:

    rule purify_demo_scores:
        input:
            table=f"{RESULTS}/purified/occlusions.parquet",
            truth=f"{DEMO_DIR}/occlusions",
            code=script_code("purify_demo_scores"),
        output:
            f"{RESULTS}/purified/demo_occlusion_scores.json",
        log:
            f"{RESULTS}/logs/purification/demo_scores.log",
        conda:
            CONDA_ENV
        params:
            method=config["purification"]["method"],
        script:
            "../scripts/purify_demo_scores.py"
