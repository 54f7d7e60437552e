# Generated demo archives (config `demo`), in the official ISIC 2017 layout.


if DEMO_DIR is not None:

    rule demo_archives:
        input:
            code=script_code("demo_archives"),
        output:
            archives=demo_archive_files(),
            occlusions=directory(f"{DEMO_DIR}/occlusions"),
        log:
            f"{RESULTS}/logs/demo_archives.log",
        conda:
            CONDA_ENV
        params:
            demo=config["demo"],
            classes=CLASSES,
            seed=config["seed"],
        script:
            "../scripts/demo_archives.py"
