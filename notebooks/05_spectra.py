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
# # 5. Eigenspectra by depth and dropout

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0
dataset = "patches"
dropout_rates = [0.0, 0.4, 0.8]
n_seeds = 3
width = 8
latent_dim = 32
epochs = 5
n_patches = 3000
batch_size = 50
lr = 0.001
device = "auto"
layers = ["input", "stem", "layer1", "layer2", "layer3", "layer4", "pooled", "fc1", "fc2", "mu"]
n_eval_images = 1000
fit_range = [1, 100]
fit_method = "huber"
n_bootstrap = 50
cv = True
batchnorm = "recalibrated"
min_r2 = 0.9
fig5_layer = "layer4"
n_filters = 4

# %% tags=["remove-cell"]
from dataclasses import asdict

import numpy as np
from myst_nb import glue
from tqdm.auto import tqdm

from polycode_utils.book.page import glue_values, message_figure, provenance_box, set_style
from polycode_utils.book.paths import data_dir, network_store
from polycode_utils.checks import check_choice
from polycode_utils.data import EVAL_SEED_OFFSET, evaluation_images
from polycode_utils.layerwise import (bits_lost, depth_table, depth_trend, describe_coverage, dropout_shape,
                                      format_alpha, format_quality, layer_spectra, method_spread,
                                      power_law_deviations, reliable_shares, spectrum_of)
from polycode_utils.models import check_layers
from polycode_utils.plots import networks as plots
from polycode_utils.spectra import FIT_METHODS, power_law_samples
from polycode_utils.training import dropout_grid, load_networks, resolve_device

# %% tags=["remove-input"]
set_style()
# Every choice is checked before anything is loaded (a bad value stops here, naming the parameter).
configs = dropout_grid(dropout_rates, seed=seed, dataset=dataset, width=width, latent_dim=latent_dim, epochs=epochs,
                       n_images=n_patches, batch_size=batch_size, lr=lr)
layers_used = check_layers(layers)
check_choice(fig5_layer, "fig5_layer (one of the recorded layers)", layers_used)
check_choice(fit_method, "fit_method", FIT_METHODS)
resolve_device(device)
eval_data = evaluation_images(dataset, n_eval_images, seed=seed, root=data_dir())
held_out = (f"fresh random crops drawn with seed {seed} + {EVAL_SEED_OFFSET} (the training crops use seed {seed})"
            if dataset == "patches" else "the CIFAR-10 test split")
provenance_box(profile=profile, data=f"evaluation images, held out from training ({held_out}): "
               f"{eval_data.description.summary()}",
               model=f"the chapter-4 autoencoders (base width {width}, latent {latent_dim}, {epochs} epochs on "
                     f"{n_patches} images), one per dropout rate, BatchNorm statistics {batchnorm.replace('_', ' ')}",
               embedded_default=dataset == "patches",
               parameters=dict(seed=seed, dataset=dataset, dropout_rates=dropout_rates, width=width,
                               latent_dim=latent_dim, epochs=epochs, n_patches=n_patches, batch_size=batch_size,
                               lr=lr, device=device, layers=layers, n_eval_images=n_eval_images,
                               fit_range=fit_range, fit_method=fit_method, n_bootstrap=n_bootstrap, cv=cv,
                               batchnorm=batchnorm, min_r2=min_r2, fig5_layer=fig5_layer, n_filters=n_filters))

# %% [markdown]
# Chapter 2 argued that a layer under dropout should spend its units on a **redundant** code. This chapter
# looks for redundancy in the networks of chapter 4 the way the paper {cite}`marshall2024polysemanticity` does:
# through the **eigenspectrum** of a layer's activity. Record the layer's activations $a \in \mathbb{R}^m$ for many
# images, form their covariance, and sort its eigenvalues $\lambda_1 \ge \lambda_2 \ge \dots$: $\lambda_n$ is the
# variance of the layer along its $n$-th principal component (PC). A code that repeats a few signals on many units
# has a few large eigenvalues of similar size and then a cliff (the paper calls this the spectrum of a *linear*
# code); a code that uses every dimension for something different has a flat spectrum; natural images and the
# visual cortex sit in between, on a **power law** $\lambda_n \propto n^{\alpha}$ {cite}`stringer2019high`. We
# write $\alpha$ with its sign, so $\alpha < 0$; Stringer et al. showed that $\alpha = -1$ is the edge: a
# representation of a high-dimensional input can only be smooth (differentiable) if $\alpha < -1$.
#
# ## Measuring a spectrum
#
# For every network of chapter 4 and every depth (`stem`, the four residual stages, the pooled features, the two
# fully connected layers and the latent mean `mu`) we record the activations of {glue:text}`n_eval_images`
# evaluation images, flattened per image (channels × height × width), with the network in eval mode: dropout
# off, $z = \mu$, BatchNorm statistics as chosen in the provenance box (chapter 4 explains why they are
# re-estimated). The evaluation images are **held out**: {glue:text}`held_out`.
#
# The widest layers have far more units ({glue:text}`max_units`) than there are images, so their covariance has
# rank at most {glue:text}`max_rank`. Its non-zero eigenvalues are those of the images × images Gram matrix of the
# centred activations, which costs far less to decompose; narrower layers go through the streaming covariance
# accumulator. Both give the same eigenvalues (a test checks this). The exponent $\alpha$ is the slope of
# $\log_{10}\lambda_n$ against $\log_{10} n$ by Huber regression, the paper's choice, over PCs
# {glue:text}`fit_first` to {glue:text}`fit_last`, cut at half the layer's rank where the layer is narrower
# [ours: the sources give no range]. Its 95 % confidence interval resamples the images with replacement
# ({glue:text}`n_bootstrap` times; the basic bootstrap interval, which corrects the estimate's finite-sample bias
# to first order) [ours].

# %% tags=["remove-cell"]
shapes = configs[0].build_model().depth_shapes()
glue_values(dict(n_eval_images=len(eval_data), held_out=held_out, fit_first=int(fit_range[0]),
                 fit_last=int(fit_range[1]), n_bootstrap=int(n_bootstrap), max_rank=len(eval_data) - 1,
                 max_units=int(max(np.prod(shapes[name]) for name in layers_used))))

# %%
networks = load_networks(configs, **network_store(), device=device, batchnorm=batchnorm)
rates = [net.dropout for net in networks]
spectra = [layer_spectra(net.model, eval_data.images, layers_used, fit_range=fit_range, method=fit_method,
                         n_bootstrap=n_bootstrap, seed=seed, n_vectors=n_filters, cv=cv,
                         noise_model=net.trained.model)
           for net in tqdm(networks, desc="networks")]

# %% [markdown]
# ### The estimator on a known spectrum
#
# A sample spectrum is not the spectrum. With fewer images than units, the many small eigenvalues of the tail
# add to every sample eigenvalue and flatten the measured slope, and the tail bends down near the rank. Before
# reading our networks we run the same measurement on Gaussian activations whose covariance has exactly
# $\lambda_n = n^{\alpha}$, with as many units as the widest layer and as many samples as evaluation images [ours].

# %%
widest = max(s.n_units for s in spectra[0].values())
calibration = {a: spectrum_of(power_law_samples(len(eval_data), widest, a, seed=seed), f"alpha = {a:g}",
                              fit_range=fit_range, method=fit_method, n_bootstrap=n_bootstrap, seed=seed)
               for a in (-1.0, -2.0)}
half_rank = [1, len(eval_data) // 2]  # the range METHODS proposed first: up to half the rank
calibration_half = spectrum_of(power_law_samples(len(eval_data), widest, -1.0, seed=seed), "alpha = -1",
                               fit_range=half_rank, method=fit_method, n_bootstrap=n_bootstrap, seed=seed)

# %% tags=["remove-cell"]
for key, a in (("m1", -1.0), ("m2", -2.0)):
    s = calibration[a]
    glue_values({f"cal_{key}_alpha": s.alpha, f"cal_{key}_lo": s.ci[0], f"cal_{key}_hi": s.ci[1],
                 f"cal_{key}_covers": describe_coverage(s.ci, a)})
glue_values(dict(cal_units=int(widest), cal_last=int(calibration[-1.0].fit.fit_range[1]),
                 cal_half_last=int(calibration_half.fit.fit_range[1]), cal_half_alpha=calibration_half.alpha,
                 cal_half_lo=calibration_half.ci[0], cal_half_hi=calibration_half.ci[1],
                 cal_half_covers=describe_coverage(calibration_half.ci, -1.0)))

# %% [markdown]
# With {glue:text}`cal_units` units and {glue:text}`n_eval_images` samples, fitted over PCs 1 to
# {glue:text}`cal_last`, a true $\alpha = -2$ is measured as {glue:text}`cal_m2_alpha:.3f`, bootstrap interval
# [{glue:text}`cal_m2_lo:.3f`, {glue:text}`cal_m2_hi:.3f`] ({glue:text}`cal_m2_covers`). A flat spectrum is the hard
# case, because its tail is heavy: a true $\alpha = -1$ is measured as {glue:text}`cal_m1_alpha:.3f`, with the interval
# [{glue:text}`cal_m1_lo:.3f`, {glue:text}`cal_m1_hi:.3f`] ({glue:text}`cal_m1_covers`). Fitted instead up to half the
# rank (PC {glue:text}`cal_half_last`), a range that suits layers with far fewer units than samples, the same
# $\alpha = -1$ is measured as {glue:text}`cal_half_alpha:.3f`, interval [{glue:text}`cal_half_lo:.3f`,
# {glue:text}`cal_half_hi:.3f`] ({glue:text}`cal_half_covers`): there the bootstrap replicates, each with only about
# 63 % distinct images, run into their own finite-sample cliff and the correction goes the wrong way. This is why the
# default `fit_range` stops at a tenth of the default number of evaluation images. The bootstrap interval can exclude
# the point estimate itself: it is shifted by the bias that resampling reveals.
#
# ## Spectra by depth (Fig. 3b)

# %% tags=["hide-input"]
glue("fig3b", plots.spectra_by_depth(spectra, rates, fit_method), display=False)

# %% [markdown]
# ```{glue:figure} fig3b
# :name: fig-4-spectra
#
# **Fig. 3b, regenerated: eigenspectra by depth**, one panel per network (dropout rate $p$), one colour per depth
# (dark: early, light: late). Each spectrum is divided by its total variance, which moves it up or down without
# changing its slope. Dashed black: the power-law fit, drawn over exactly the PCs it was fitted on. The layout and
# the Huber fit are the paper's; the networks, images, fit range and normalisation are ours. Spectra stop at the
# layer's rank: the number of units, or {glue:text}`max_rank` for the layers wider than the image set, where the
# last eigenvalues fall off a cliff that is an artefact of the finite sample, not of the code.
# ```

# %% tags=["remove-cell"]
glue("alpha_table", depth_table(spectra, rates, format_alpha), display=False)
glue_values(asdict(depth_trend(spectra, rates)))

# %% [markdown]
# ## The exponent by depth (Fig. 3c)

# %% tags=["hide-input"]
glue("fig3c", plots.alpha_by_depth(spectra, rates), display=False)

# %% [markdown]
# ```{glue:figure} fig3c
# :name: fig-4-alpha
#
# **Fig. 3c, regenerated: the exponent $\alpha$ by depth**, one line per network, with 95 % bootstrap intervals
# (bars; {glue:text}`n_bootstrap` resamples of the images, ours), the points spread sideways so that they do not
# hide each other. Dashed: $\alpha = -1$ (the paper's reference line). The measured values are ours.
# ```
#
# The table gives every estimate with its interval. $\alpha$ is {glue:text}`alpha_direction` (Spearman correlation of
# $\alpha$ with depth between {glue:text}`rho_min:.2f` and {glue:text}`rho_max:.2f`, mean {glue:text}`rho_mean:.2f`). At
# $p =$ {glue:text}`p_first:g`, $\alpha$ is {glue:text}`alpha_first_p0:.2f` at {glue:text}`alpha_first_layer` and
# {glue:text}`alpha_last_p0:.2f` at {glue:text}`alpha_last_layer`; the last layer is steeper than the first in
# {glue:text}`n_steeper` of the {glue:text}`n_networks` networks. The convolutional stages have $\alpha$ between
# {glue:text}`alpha_conv_min:.2f` and {glue:text}`alpha_conv_max:.2f`; after pooling, the fully connected layers and the
# latent code lie between {glue:text}`alpha_dense_min:.2f` and {glue:text}`alpha_dense_max:.2f`. Those layers are narrow
# ({glue:text}`dense_units_min` to {glue:text}`dense_units_max` units), so their fits span fewer PCs, and a steep
# exponent there partly says that a small layer's variance sits in a few directions. {glue:text}`n_below_m1` of the
# {glue:text}`n_alpha` estimates lie below $-1$.
#
# ```{glue:} alpha_table
# ```
#
# **$\alpha$ [95 % interval] by depth (rows) and dropout rate (columns)**, {glue:text}`fit_method_name` fit.
#
# ### How much the fitting method matters
#
# Huber regression (the paper's) down-weights eigenvalues far from the line; ordinary least squares (OLS) weighs
# every PC alike; the weighted least squares of Stringer et al. (WLS, weights $1/n$) weighs the first PCs most.
# Over the same PCs:

# %% tags=["remove-cell"]
methods_table = depth_table(spectra, rates, lambda s: " / ".join(f"{s.alphas[m]:.2f}" for m in FIT_METHODS))
methods_table.index.name = "depth: " + " / ".join(FIT_METHODS)
glue_values(dict(fit_method_name=fit_method, methods_table=methods_table, **asdict(method_spread(spectra))))

# %% [markdown]
# ```{glue:} methods_table
# ```
#
# **$\alpha$ by Huber / OLS / WLS** over the same PCs (ours). The methods differ by up to
# {glue:text}`diff_ols:.2f` (Huber against OLS; median {glue:text}`med_ols:.2f`) and up to
# {glue:text}`diff_wls:.2f` (Huber against WLS; median {glue:text}`med_wls:.2f`): a spectrum that is not a
# straight line has no single slope, and each method picks a different compromise: {glue:text}`ols_beyond_text`.
#
# ### Which spectra are far from a power law
#
# The paper notes that later layers deviate from a power law and resemble a linear code. We measure the
# deviation rather than judge it by eye [ours]: over each fit's range, $R^2$ of $\log_{10}\lambda_n$ about the
# fitted line, the root-mean-square residual in decades, the **curvature** $c_2$, the quadratic coefficient of a
# parabola fitted to $\log_{10}\lambda_n$ against $\log_{10} n$ (per decade²; negative: the spectrum bends down,
# positive: it flattens), and the **cliff**: the largest drop between two neighbouring eigenvalues, in decades,
# beyond the drop the fitted power law predicts for that step, with the PC $n$ after which it happens. A power law
# has $R^2 = 1$, $c_2 = 0$ and no cliff; a linear code with $k$ similar eigenvalues has a cliff of several
# decades after PC $k$ (the sign of its curvature depends on how much of the tail the range holds, so the cliff,
# not the curvature, identifies it). We call a spectrum *far from a power law* when $R^2 <$
# {glue:text}`min_r2:g` (a threshold of ours, the parameter `min_r2`).

# %% tags=["remove-cell"]
quality_table = depth_table(spectra, rates, lambda s: format_quality(s, min_r2))
quality_table.index.name = "depth: R² / c₂ / cliff@n"
glue_values(dict(min_r2=float(min_r2), quality_table=quality_table,
                 **asdict(power_law_deviations(spectra, rates, min_r2))))

# %% [markdown]
# ```{glue:} quality_table
# ```
#
# **$R^2$ / curvature $c_2$ / cliff (decades) @ PC of each spectrum over its fit range** (ours); ✱ marks
# $R^2 <$ {glue:text}`min_r2:g`.
#
# {glue:text}`n_far` of the {glue:text}`n_spectra` spectra are far from a power law by this criterion:
# {glue:text}`far_text`. {glue:text}`far_summary`. The three largest cliffs are {glue:text}`cliff_text`; the
# median cliff is {glue:text}`cliff_early:.2f` decades in the first half of the network and
# {glue:text}`cliff_late:.2f` in the second.
#
# ## Eigenvectors as filters (Fig. 3d)

# %% tags=["hide-input"]
filter_layers = [name for name in ("stem", "layer1") if name in layers_used]
show_nets = sorted({0, len(networks) - 1})
glue("fig3d", plots.eigenvector_filters(spectra, rates, shapes, filter_layers, show_nets, n_filters, max_channels=8)
     if filter_layers and n_filters > 0 else
     message_figure("no filters: stem and layer1 not recorded, or n_filters = 0"), display=False)
glue_values(dict(n_filters=int(n_filters), max_channels=8,
                 filter_nets=" and ".join(f"p = {rates[i]:g}" for i in show_nets)))

# %% [markdown]
# ```{glue:figure} fig3d
# :name: fig-4-filters
#
# **Fig. 3d, regenerated: the top {glue:text}`n_filters` eigenvectors of `stem` and `layer1` shown as filters**,
# for the networks at {glue:text}`filter_nets`. Each row is one principal direction of the layer's activity,
# reshaped to the layer's (channels, height, width); each tile is one channel's map (at most
# {glue:text}`max_channels` channels: all of them when the layer has no more, else those carrying most of the
# eigenvectors' weight, numbered in the tile), red positive, blue negative, on a common scale per row. An eigenvector's
# sign is arbitrary. The display follows the paper's; the rest is ours.
# ```
#
# ## Dropout and the shape of the spectrum (Fig. 5)
#
# The paper's Fig. 5 compares one layer in two networks trained at different dropout rates and reads a more
# curved spectrum at higher dropout as a more redundant, noise-robust code. We overlay the spectra of
# {glue:text}`fig5_layer_name` for every dropout rate ({glue:text}`fig5_why`), and measure the deviation from a power
# law of every layer, so that no single layer has to carry the claim.

# %% tags=["hide-input"]
glue_values(dict(fig5_layer_name=fig5_layer,
                 fig5_why="the default: the last residual stage, the deepest place where dropout acts"
                 if fig5_layer == "layer4" else "the parameter fig5_layer; the default is layer4"))
glue("fig5", plots.dropout_and_shape(spectra, rates, fig5_layer), display=False)

# %% [markdown]
# ```{glue:figure} fig5
# :name: fig-4-dropout
#
# **Fig. 5, regenerated and extended.** (a) The eigenspectra of {glue:text}`fig5_layer_name` in every network,
# divided by the first eigenvalue, with their power-law fits (dashed) over the grey range; the paper shows two
# networks, we show the whole dropout grid. (b) Deviation from a power law, the rms residual about the fit in
# decades, against the dropout rate, for every layer (the layer of panel a drawn thick). (c) The curvature $c_2$
# (negative: the spectrum bends down over the range; positive: it flattens). Panels b and c are ours.
# ```

# %% tags=["remove-cell"]
glue_values(asdict(dropout_shape(spectra, rates, fig5_layer)))

# %% [markdown]
# In {glue:text}`fig5_layer_name`, the rms deviation from a power law is {glue:text}`f5_rms_first:.3f` decades
# at $p =$ {glue:text}`p_first:g` ($R^2$ {glue:text}`f5_r2_first:.3f`, curvature {glue:text}`f5_c2_first:+.2f`,
# $\alpha$ {glue:text}`f5_alpha_first:.2f`) and {glue:text}`f5_rms_last:.3f` at $p =$ {glue:text}`p_last:g`
# ($R^2$ {glue:text}`f5_r2_last:.3f`, curvature {glue:text}`f5_c2_last:+.2f`, $\alpha$
# {glue:text}`f5_alpha_last:.2f`); the Spearman correlation of its deviation with the dropout rate is
# {glue:text}`rho_f5:.2f`. Over all {glue:text}`n_layers` layers, {glue:text}`n_more_dev` deviate more at the
# highest rate than at the lowest, the deviation correlates positively with the rate in {glue:text}`n_up`
# (strongly, $\rho \ge 0.8$, in {glue:text}`n_up_strong`). Our networks are therefore
# {glue:text}`f5_verdict`. The curvature is positive in {glue:text}`n_c2_pos` of the {glue:text}`n_spectra`
# spectra: {glue:text}`c2_text`. The largest cliff of
# {glue:text}`fig5_layer_name` is {glue:text}`f5_cliff_first:.2f` decades at $p =$ {glue:text}`p_first:g` and
# {glue:text}`f5_cliff_last:.2f` at $p =$ {glue:text}`p_last:g`. Averaged over all layers, the cliff is
# {glue:text}`cliff_mean_first:.2f` decades at $p =$ {glue:text}`p_first:g` and {glue:text}`cliff_mean_last:.2f`
# at $p =$ {glue:text}`p_last:g` (Spearman correlation of the mean cliff with the rate {glue:text}`rho_cliff:.2f`;
# the table above says after which PC each cliff falls). These are small networks trained briefly (chapter 4),
# and one seed per dropout rate: the measurement, not the claim, is what this chapter reports.

# %% [markdown]
# ## Cross-validated spectra
#
# A plain spectrum counts all variance, also variance that would not survive the next forward pass. Stringer et
# al. {cite}`stringer2019high` estimate the reliable part with **cross-validated PCA** (cvPCA): record the same
# stimuli twice, find the PCs of the first repeat, and take the covariance of the two repeats' projections on
# each PC; noise, independent between repeats, averages out. Our networks are deterministic in eval mode; their
# only noise is dropout. So our repeats are two passes over the evaluation images with dropout left on, each with
# its own masks, through the network as trained [ours]: its BatchNorm statistics were estimated on dropped-out
# activations, as the repeats are (with statistics re-estimated without dropout, the noise would be amplified
# from layer to layer). For the network trained without dropout both repeats are identical and every PC is
# reproduced exactly.

# %% tags=["hide-input"]
if cv:
    glue("fig_cv", plots.cross_validated_spectra(spectra, rates, fig5_layer), display=False)
    glue_values(dict(cv_text="shown below", **asdict(reliable_shares(spectra, rates))))
else:
    glue("fig_cv", message_figure("cvPCA switched off in this run (cv = False)"), display=False)
    glue_values(dict(cv_text="switched off in this run (the parameter cv)", cv_rel_min=float("nan"),
                     cv_rel_max=float("nan"), cv_rel_min_layer="n/a", cv_rel_max_layer="n/a"))

# %% [markdown]
# The cross-validated spectra are {glue:text}`cv_text`.
#
# ```{glue:figure} fig_cv
# :name: fig-4-cvpca
#
# **Cross-validated spectra (ours, beyond the paper).** (a) {glue:text}`fig5_layer_name`: the spectrum of the
# first dropout-noise repeat (lines) and the cvPCA spectrum of the two repeats on the same PCs (circles; means
# over log-spaced bins of PCs, positive bins only), both divided by the repeat's $\lambda_1$. (b) The **reliable
# share**: over the PCs of the fit range, the cvPCA variance divided by the repeat's own variance, by depth, for
# each network; 1 means the second repeat reproduces the first exactly.
# ```
#
# At the highest dropout rate, the reliable share ranges from {glue:text}`cv_rel_min:.2f`
# ({glue:text}`cv_rel_min_layer`) to {glue:text}`cv_rel_max:.2f` ({glue:text}`cv_rel_max_layer`). A share near 1
# means the layer's activity along its leading PCs is the same whichever units dropout removes, which is what a
# redundant code (chapter 2) would do.
#
# ## Bits lost to the power law (the note's Theorem 4, corrected)
#
# The note bounds what a layer with a decaying spectrum can carry: if unit $i$'s scale is $\sigma_i$ relative to the
# first and each unit resolves $n$ bits at scale 1, the layer holds about $\sum_i \log_2(2^n \sigma_i)$ bits, so it
# loses $-\sum_i \log_2 \sigma_i$ bits to the decay. For eigenvalues (variances) $\lambda_i \propto i^{\alpha}$, the
# scales are $\sigma_i = i^{\alpha/2}$ and the loss over $m$ PCs is $-\tfrac{\alpha}{2}\log_2 m!$ (chapter 2 derives it
# and corrects the note's sign; the book's errata page lists the correction). We compare that prediction, with each
# layer's fitted $\alpha$, to the loss measured from the spectrum itself, $-\tfrac12\sum_{i \le m}
# \log_2(\lambda_i/\lambda_1)$ over the fit range, both per unit [ours].

# %% tags=["remove-cell"]
lost = depth_table(spectra, rates, lambda s: "{:.2f} / {:.2f}".format(*bits_lost(s)))
lost.index.name = "depth: measured / Theorem 4 (bits per unit)"
ratio = np.array([bits_lost(s)[0] / bits_lost(s)[1] for spec in spectra for s in spec.values()])
glue_values(dict(bits_lost_table=lost, bits_ratio_median=float(np.median(ratio)), bits_ratio_min=float(ratio.min()),
                 bits_ratio_max=float(ratio.max())))

# %% [markdown]
# ```{glue:} bits_lost_table
# ```
#
# **Bits per unit lost to the spectrum's decay over each fit range**: measured from the eigenvalues / predicted by
# the corrected Theorem 4 from the fitted $\alpha$ (ours). The measured loss is {glue:text}`bits_ratio_median:.2f`
# times the prediction at the median (from {glue:text}`bits_ratio_min:.2f` to {glue:text}`bits_ratio_max:.2f`):
# where a spectrum bends away from its power law (the table of fit quality above), the theorem's closed form
# misjudges the loss, since it assumes the law holds exactly.
#
# ## What this chapter measured
#
# ````{admonition} Measured α by depth and dropout rate (this run)
# :class: important
# ```{glue:} alpha_table
# ```
# $\alpha$ [95 % bootstrap interval], {glue:text}`fit_method_name` fit over PCs {glue:text}`fit_first` to
# {glue:text}`fit_last` (at most half the layer's rank), {glue:text}`n_eval_images` held-out images.
# ````
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **The paper's:** eigenspectra of the hidden activations by depth on log-log axes, the Huber power-law fit and
# its exponent by depth with the line $\alpha = -1$, eigenvectors shown as filters, the comparison of networks
# trained at different dropout rates, and the reading of a curved spectrum as a redundant code.
# **Ours:** the networks (chapter 4), the held-out evaluation images, the fit range and its calibration on a known
# spectrum, the bootstrap intervals, the OLS and WLS comparison, the goodness-of-fit, curvature and deviation
# measures and the threshold for "far from a power law", the whole dropout grid in Fig. 5 with every layer's
# deviation, the cross-validated spectra with dropout as the noise, and every number on this page.
# ```
