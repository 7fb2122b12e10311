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
# # 3. A ResNet autoencoder trained with dropout

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0

# %% tags=["remove-input"]
from polycode_utils.display import provenance_box

provenance_box(profile=profile, data="32x32 patches of the photographs shipped with scikit-learn and scikit-image", model="ResNet-18-family autoencoder", embedded_default=profile != "paper",
               parameters=dict(seed=seed))

# %% [markdown]
# ```{admonition} In preparation
# :class: warning
# This chapter is not written yet; the page is here so that the book always builds with all six chapters.
# ```
#
# This chapter will train the ResNet autoencoder of the paper (dropout after every ReLU of the encoder) at the
# dropout rates 0, 0.2, 0.4, 0.6 and 0.8, on 32x32 patches of natural photographs by default (CIFAR-10 in the
# `paper` profile), and show loss curves and reconstructions. Chapters 4 and 5 measure these networks.
