"""Data purification (Bisla et al. 2019, Section 3.2.2 and Supplement 6.1): hair and ruler removal.

``classic`` is the paper's morphological method, ``dullrazor`` the baseline, ``network`` the partial-
convolution U-Net that learns to fill the occlusions; ``run`` purifies one shard of the manifest.
"""
