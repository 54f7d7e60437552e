"""Snakemake adapter: predict an archive part without ground truth into its folder (nothing scores it)."""

import torch

from melanoflow.predict.run import predict_inputs, summarise
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
predicted = predict_inputs(
    [snakemake.input.images],
    snakemake.output[0],
    snakemake.params.results,
    snakemake.params.variant,
    snakemake.params.device,
    snakemake.params.tta,
)
summarise([snakemake.output[0]], snakemake.output[0], predicted.thumbnails)
