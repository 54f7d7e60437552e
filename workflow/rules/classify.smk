# Lesion classification (paper Sections 3.3 and 4.1): the augmented training manifest of each variant,
# its decoded-image cache, the ResNet classifier and its predictions on the test split.


rule classification_manifest:
    input:
        unpack(classification_manifest_inputs),
        code=script_code("classification_manifest"),
    output:
        manifest=f"{RESULTS}/manifests/examples.{{variant}}.parquet",
        counts=f"{RESULTS}/manifests/examples.{{variant}}.counts.csv",
        # Empty unless classification.materialise: then every training example as a PNG.
        examples=directory(f"{RESULTS}/manifests/examples.{{variant}}.images"),
    log:
        f"{RESULTS}/logs/classification/manifest_{{variant}}.log",
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    params:
        settings=classification_manifest_params,
    script:
        "../scripts/classification_manifest.py"


# Figures are drawn by their own rules: editing one redraws it, nothing else.
rule classification_counts_figure:
    input:
        counts=rules.classification_manifest.output.counts,
        code=script_code("classification_counts_figure"),
    output:
        report(
            f"{RESULTS}/manifests/examples.{{variant}}.counts.png",
            caption="../report/classification_counts.rst",
            category="5. Classifiers",
            subcategory="{variant}",
        ),
    log:
        f"{RESULTS}/logs/classification/counts_figure_{{variant}}.log",
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    script:
        "../scripts/classification_counts_figure.py"


# Decoding runs in `shards` jobs per variant; an image's shard comes from its source path. The pieces
# are temporary: once merged they would only double the disk the cache takes.
rule classification_cache_shard:
    input:
        unpack(lesion_masks),
        manifest=f"{RESULTS}/manifests/examples.{{variant}}.parquet",
        code=script_code("classification_cache_shard"),
    output:
        cache=temp(f"{RESULTS}/classify/{{variant}}/cache/{{shard}}.npy"),
        index=temp(f"{RESULTS}/classify/{{variant}}/cache/{{shard}}.json"),
    log:
        f"{RESULTS}/logs/classification/cache_{{variant}}_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/classification/cache_{{variant}}_{{shard}}.tsv"
    wildcard_constraints:
        variant="|".join(VARIANTS),
        shard=r"\d+",
    conda:
        CONDA_ENV
    threads: 2
    params:
        size=config["classification"]["resize"],
        n_shards=config["shards"],
        lesion_crop=LESION_CROP,
        color_constancy=config["classification"]["color_constancy"],
    script:
        "../scripts/classification_cache_shard.py"


rule classification_cache_merge:
    input:
        manifest=f"{RESULTS}/manifests/examples.{{variant}}.parquet",
        caches=expand(
            f"{RESULTS}/classify/{{variant}}/cache/{{shard}}.npy",
            shard=SHARDS,
            allow_missing=True,
        ),
        indexes=expand(
            f"{RESULTS}/classify/{{variant}}/cache/{{shard}}.json",
            shard=SHARDS,
            allow_missing=True,
        ),
        code=script_code("classification_cache_merge"),
    output:
        cache=f"{RESULTS}/classify/{{variant}}/images.npy",
        index=f"{RESULTS}/classify/{{variant}}/images.json",
    log:
        f"{RESULTS}/logs/classification/cache_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/classification/cache_{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    params:
        size=config["classification"]["resize"],
    script:
        "../scripts/classification_cache_merge.py"


rule classification_train:
    input:
        manifest=f"{RESULTS}/manifests/examples.{{variant}}.parquet",
        cache=f"{RESULTS}/classify/{{variant}}/images.npy",
        index=f"{RESULTS}/classify/{{variant}}/images.json",
        weights=classification_weights,
        code=script_code("classification_train"),
    output:
        model=f"{RESULTS}/models/classifier.{{variant}}.pt",
        history=f"{RESULTS}/classify/{{variant}}/history.csv",
    log:
        f"{RESULTS}/logs/classification/train_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/classification/train_{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=CLASSIFICATION_GPU,
    params:
        settings=job_settings("classification", *CLASSIFIER_TRAINING_KEYS),
    script:
        "../scripts/classification_train.py"


rule classification_history_figure:
    input:
        history=rules.classification_train.output.history,
        code=script_code("classification_history_figure"),
    output:
        report(
            f"{RESULTS}/classify/{{variant}}/history.png",
            caption="../report/classification_history.rst",
            category="5. Classifiers",
            subcategory="{variant}",
        ),
    log:
        f"{RESULTS}/logs/classification/history_figure_{{variant}}.log",
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    params:
        arch=config["classification"]["arch"],
        weights=config["classification"]["weights"],
    script:
        "../scripts/classification_history_figure.py"


rule classification_predict:
    input:
        manifest=f"{RESULTS}/manifests/examples.{{variant}}.parquet",
        cache=f"{RESULTS}/classify/{{variant}}/images.npy",
        index=f"{RESULTS}/classify/{{variant}}/images.json",
        model=f"{RESULTS}/models/classifier.{{variant}}.pt",
        code=script_code("classification_predict"),
    output:
        f"{RESULTS}/predictions/{{variant}}.parquet",
    log:
        f"{RESULTS}/logs/classification/predict_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/classification/predict_{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=CLASSIFICATION_GPU,
    params:
        settings=section_settings("classification", *CLASSIFIER_PREDICTION_KEYS),
        device=config["classification"]["device"],
    script:
        "../scripts/classification_predict.py"


rule classification_predict_purified:
    input:
        unpack(lesion_masks),
        manifest=f"{RESULTS}/manifests/examples.{{variant}}.parquet",
        cache=f"{RESULTS}/classify/{{variant}}/images.npy",
        index=f"{RESULTS}/classify/{{variant}}/images.json",
        model=f"{RESULTS}/models/classifier.{{variant}}.pt",
        occlusions=f"{RESULTS}/purified/occlusions.parquet",
        code=script_code("classification_predict"),
    output:
        f"{RESULTS}/predictions/{{variant}}.test_purified.parquet",
    log:
        f"{RESULTS}/logs/classification/predict_{{variant}}.test_purified.log",
    benchmark:
        f"{RESULTS}/benchmarks/classification/predict_{{variant}}.test_purified.tsv"
    wildcard_constraints:
        variant="|".join(VARIANTS),
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=CLASSIFICATION_GPU,
    params:
        settings=section_settings("classification", *CLASSIFIER_PREDICTION_KEYS),
        device=config["classification"]["device"],
    script:
        "../scripts/classification_predict.py"


# The classical floor every deep variant must beat: logistic regression on colour and shape features of
# the segmented lesion, C chosen on the validation split; predictions for the val and test splits.
rule classical_floor:
    input:
        images=f"{RESULTS}/manifests/images.parquet",
        masks=f"{RESULTS}/segmentation/masks.parquet",
        code=script_code("classical_floor"),
    output:
        predictions=f"{RESULTS}/predictions/classical_floor.parquet",
        model=f"{RESULTS}/models/classical_floor.json",
    log:
        f"{RESULTS}/logs/classification/classical_floor.log",
    benchmark:
        f"{RESULTS}/benchmarks/classification/classical_floor.tsv"
    conda:
        CONDA_ENV
    threads: 2
    params:
        settings=classical_floor_settings(),
    script:
        "../scripts/classical_floor.py"
