# melanoflow: Bisla et al. (CVPRW 2019) melanoma pipeline. See README.md for how to run it.
import os

from snakemake.utils import min_version

min_version("9.0")


# The paper's experiment; config files named on the command line overlay it (datasets, variants and GAN
# classes replaced whole, the rest merged key by key: src/melanoflow/config_files.py).
DEFAULT_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")
if workflow.overwrite_configfiles:
    from melanoflow.config_files import merge
    import yaml

    with open(DEFAULT_CONFIG) as default:
        config.update(
            merge(yaml.safe_load(default), workflow.config_settings.overwrite_config)
        )
else:

    configfile: DEFAULT_CONFIG


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/purify.smk"
include: "workflow/rules/synthesize.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/artefacts.smk"
include: "workflow/rules/predict.smk"


rule all:
    input:
        all_targets(),
