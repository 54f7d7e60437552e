# Prediction on new images with this run's models: `snakemake predict --config predict_input=DIR`.
# The settings file is part of every run (rule all), so that `melanoflow predict` can use a finished run.


rule predict_settings:
    input:
        code=script_code("predict_settings"),
    output:
        f"{RESULTS}/models/predict.json",
    log:
        f"{RESULTS}/logs/predict/settings.log",
    conda:
        CONDA_ENV
    params:
        settings=predict_run_settings(),
    script:
        "../scripts/predict_settings.py"


rule predict_shard:
    input:
        unpack(predict_model_inputs),
        images=predict_input,
        code=script_code("predict_shard"),
    output:
        directory(f"{RESULTS}/predict/shards/{{shard}}"),
    log:
        f"{RESULTS}/logs/predict/shard_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict/shard_{{shard}}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=gpu_jobs(config["predict_device"]),
    params:
        # the results folder: the one holding models/predict.json
        results=lambda wildcards, input: os.path.dirname(
            os.path.dirname(input.settings)
        ),
        variant=config["predict_variant"],
        tta=config["predict_tta"],
        device=config["predict_device"],
        shards=config["shards"],
    script:
        "../scripts/predict_shard.py"


rule predict_unscored:
    input:
        unpack(predict_model_inputs),
        images=lambda wildcards: UNSCORED_PARTS[
            f"{RESULTS}/predict/unscored/{wildcards.dataset}/{wildcards.part}"
        ],
        code=script_code("predict_unscored"),
    output:
        directory(f"{RESULTS}/predict/unscored/{{dataset}}/{{part}}"),
    log:
        f"{RESULTS}/logs/predict/unscored_{{dataset}}_{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict/unscored_{{dataset}}_{{part}}.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=gpu_jobs(config["predict_device"]),
    params:
        results=lambda wildcards, input: os.path.dirname(
            os.path.dirname(input.settings)
        ),
        variant=config["predict_variant"],
        tta=config["predict_tta"],
        device=config["predict_device"],
    script:
        "../scripts/predict_unscored.py"


rule predict_merge:
    input:
        shards=expand(f"{RESULTS}/predict/shards/{{shard}}", shard=SHARDS),
        code=script_code("predict_merge"),
    output:
        **{
            name.split(".")[0]: f"{RESULTS}/predict/{name}"
            for name in PREDICT_SUMMARY_FILES
        },
    log:
        f"{RESULTS}/logs/predict/merge.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/predict_merge.py"


rule predict:
    input:
        rules.predict_merge.output,
