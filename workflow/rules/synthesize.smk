# Synthetic lesions for scarce classes: GAN training, sampling, MSE deduplication and figures.


rule synthesis_train:
    input:
        unpack(synthesis_real_inputs),
        code=script_code("synthesis_train"),
    output:
        f"{RESULTS}/models/gan/{{gan}}.pt",
    log:
        f"{RESULTS}/logs/synthesis/train_{{gan}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthesis/train_{{gan}}.tsv"
    wildcard_constraints:
        gan="|".join(GAN_NAMES),
    conda:
        CONDA_ENV
    # Small convolutions gain little from a second thread; classes train in parallel instead.
    threads: 1
    resources:
        gpu=gpu_jobs(config["synthesis"]["device"]),
    params:
        settings=synthesis_settings("device", "mode", "gan"),
        classes=synthesis_gan_classes,
    script:
        "../scripts/synthesis_train.py"


rule synthesis_sample:
    input:
        model=synthesis_model,
        code=script_code("synthesis_sample"),
    output:
        raw=directory(f"{RESULTS}/synthetic/{{cls}}/raw"),
        table=f"{RESULTS}/synthetic/{{cls}}/samples.parquet",
    log:
        f"{RESULTS}/logs/synthesis/sample_{{cls}}.log",
    wildcard_constraints:
        cls="|".join(SYNTHETIC_CLASSES),
    conda:
        CONDA_ENV
    params:
        samples=synthesis_sample_count,
        seed=config["seed"],
    script:
        "../scripts/synthesis_sample.py"


rule synthesis_dedup:
    input:
        unpack(synthesis_real_inputs),
        samples=f"{RESULTS}/synthetic/{{cls}}/samples.parquet",
        code=script_code("synthesis_dedup"),
    output:
        table=f"{RESULTS}/synthetic/{{cls}}/nearest.parquet",
        kept=directory(f"{RESULTS}/synthetic/{{cls}}/kept"),
        summary=f"{RESULTS}/synthetic/{{cls}}/summary.json",
    log:
        f"{RESULTS}/logs/synthesis/dedup_{{cls}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthesis/dedup_{{cls}}.tsv"
    wildcard_constraints:
        cls="|".join(SYNTHETIC_CLASSES),
    conda:
        CONDA_ENV
    threads: 2
    params:
        dedup=config["synthesis"]["dedup"],
        resolution=GAN_RESOLUTION,
    script:
        "../scripts/synthesis_dedup.py"


rule synthesis_figures:
    input:
        nearest=f"{RESULTS}/synthetic/{{cls}}/nearest.parquet",
        model=synthesis_model,
        code=script_code("synthesis_figures"),
    output:
        histogram=report(
            f"{RESULTS}/synthetic/{{cls}}/mse_histogram.png",
            caption="../report/synthesis_histogram.rst",
            category="4. Synthetic lesions",
            subcategory="{cls}",
        ),
        gallery=report(
            f"{RESULTS}/synthetic/{{cls}}/gallery.png",
            caption="../report/synthesis_gallery.rst",
            category="4. Synthetic lesions",
            subcategory="{cls}",
        ),
        curves=report(
            f"{RESULTS}/synthetic/{{cls}}/training.png",
            caption="../report/synthesis_training.rst",
            category="4. Synthetic lesions",
            subcategory="{cls}",
        ),
    log:
        f"{RESULTS}/logs/synthesis/figures_{{cls}}.log",
    wildcard_constraints:
        cls="|".join(SYNTHETIC_CLASSES),
    conda:
        CONDA_ENV
    params:
        figures=config["synthesis"]["figures"],
        mse_threshold=config["synthesis"]["dedup"]["mse_threshold"],
        resolution=GAN_RESOLUTION,
    script:
        "../scripts/synthesis_figures.py"
