"""Data purification (Bisla et al. 2019, Section 3.2.2 and Supplement 6.1): hair and ruler removal.

Methods (``purification.method``): ``paper`` is the paper's morphological method as it describes it
(paper.py), ``improved`` the project's refined detector and fill (classic.py), ``dullrazor`` the baseline,
``network`` the partial-convolution U-Net that fills the occlusions the improved detector finds; ``run``
purifies one shard of the manifest.
"""
