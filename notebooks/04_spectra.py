# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: polycode
#     language: python
#     name: polycode
# ---

# %% [markdown]
# # 4. Eigenspectra by depth and dropout

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0

# %% tags=["remove-input"]
from polycode_utils.display import provenance_box

provenance_box(profile=profile, data="32x32 patches of the photographs shipped with scikit-learn and scikit-image", model="the chapter-3 autoencoders", embedded_default=profile != "paper",
               parameters=dict(seed=seed))

# %% [markdown]
# ```{admonition} In preparation
# :class: warning
# This chapter is not written yet; the page is here so that the book always builds with all six chapters.
# ```
#
# This chapter will measure the covariance eigenspectrum of the hidden activations at every depth of the
# chapter-3 networks, fit the power-law exponent $\alpha$ by Huber regression with bootstrap confidence
# intervals (Fig. 3b–c), show the top eigenvectors as filters (Fig. 3d), and compare the spectra of networks
# trained at low and high dropout (Fig. 5).
