# melanoflow: Bisla et al. (CVPRW 2019) melanoma pipeline. See README.md for how to run it.
from snakemake.utils import min_version

min_version("9.0")


# The paper's experiment unless the command line names other config files (they replace it, not merge into
# it, so that e.g. the demo's datasets never mix with the real ones).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/purify.smk"
include: "workflow/rules/synthesize.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/predict.smk"


rule all:
    input:
        all_targets(),
