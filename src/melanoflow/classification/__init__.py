"""Lesion classification (paper Sections 3.3 and 4.1): augmented training manifests, ResNet classifiers,
training and inference.

- :mod:`recipe`: the arithmetic of the paper's training-set recipe (Figure 7).
- :mod:`manifests`: ``results/manifests/examples.<variant>.parquet``, one row per example with its transform.
- :mod:`cache`: decode-and-resize-once image cache (a memory-mapped uint8 array).
- :mod:`data`: manifest rows -> tensors, applying each row's transform on tensors.
- :mod:`model`: torchvision ResNets with the final layer replaced; checkpoints with their metadata.
- :mod:`train`: SGD training with per-epoch CSV, best-by-validation-loss checkpoint and exact resume.
- :mod:`predict`: class probabilities for the test split (optionally on purified test images).
"""
