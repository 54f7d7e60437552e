"""Synthetic lesions for scarce classes (paper Section 3.3.2 and Supplement 6.3).

``dcgan`` and ``coupled`` hold the networks of Tables 2 and 5, ``train`` fits them on training-split
images only, ``sample`` writes generated PNGs, ``dedup`` finds every generated image's nearest real
image by MSE and drops near-copies, and ``figures`` draws the MSE histograms and galleries (Figures 5, 6).
"""
