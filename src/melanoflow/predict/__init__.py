"""Prediction on new images with a finished run's models (``melanoflow predict``, ``snakemake predict``):
inputs (files, folders, zips), the segment-purify-classify-explain pipeline, and what it writes."""
