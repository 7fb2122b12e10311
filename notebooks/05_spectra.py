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
dropout_rates = [0.0, 0.2, 0.4, 0.6, 0.8]
n_seeds = 3
width = 8
latent_dim = 32
epochs = 120
max_epochs = 240
n_patches = 9600
batch_size = 64
lr = 0.001
device = "auto"
image_size = 16
variational = False
placement = "branch"
schedule = "cosine"
max_train_s = 240.0
layers = ["input", "stem", "layer1", "layer2", "layer3", "layer4", "pooled", "fc1", "fc2", "mu"]
n_eval_images = 1000
fit_range = [1, 100]
fit_method = "huber"
batchnorm = "recalibrated"
n_eval_sets = 3
coverage_draws = 6
cv = True
min_r2 = 0.9
fig5_layer = "layer4"
n_filters = 4

# %% tags=["remove-cell"]
from dataclasses import asdict

import numpy as np
from myst_nb import glue

from polycode_utils.book.page import declared_parameters, glue_values, message_figure, provenance_box, set_style
from polycode_utils.book.paths import data_dir, network_store
from polycode_utils.checks import check_choice
from polycode_utils.networks.data import EVAL_SEED_OFFSET
from polycode_utils.layerwise.common import (format_mean_sd, measured_networks, over_seeds, paired_difference,
                                             rate_label, seed_table)
from polycode_utils.layerwise.eigenspectra import (cross_validated, evaluation_sets, grid_spectra, interval_coverage,
                                                   refit_from)
from polycode_utils.networks.models import INPUT_DEPTH, check_layers
from polycode_utils.plots import networks as plots
from polycode_utils.instruments.spectra import FIT_METHODS
from polycode_utils.networks.grid import describe_networks, dropout_grid, grid_losses, load_networks
from polycode_utils.networks.training import load_training_data
from polycode_utils.runtime.workers import resolve_device

# %% tags=["remove-cell"]
from polycode_utils.reports.ch04_autoencoder import training_verdict
from polycode_utils.reports.ch05_spectra import (bits_lost_table, claim_resolution, cv_label, depth_trend,
                                                 dropout_shape, format_quality, leading_component, method_spread,
                                                 methods_table, pc1_table, power_law_deviations, reliable_shares,
                                                 seed_summary, spectra_claims)

# %% tags=["remove-input"]
set_style()
# Every choice is checked before anything is loaded (a bad value stops here, naming the parameter).
configs = dropout_grid(dropout_rates, n_seeds=n_seeds, seed=seed, dataset=dataset, width=width,
                       latent_dim=latent_dim, epochs=epochs, n_images=n_patches, batch_size=batch_size, lr=lr,
                       image_size=image_size, variational=variational, placement=placement, schedule=schedule)
layers_used = check_layers(layers)
check_choice(fig5_layer, "fig5_layer (one of the recorded layers, not the input)",
             [name for name in layers_used if name != INPUT_DEPTH])
check_choice(fit_method, "fit_method", FIT_METHODS)
resolve_device(device)
eval_sets, eval_data = evaluation_sets(dataset, n_eval_images, n_eval_sets, seed=seed, root=data_dir(),
                                       size=image_size)

# %% tags=["remove-input"]
held_out = (f"fresh random crops drawn with seed {seed} + {EVAL_SEED_OFFSET} (the training crops use seed {seed})"
            if dataset == "patches" else "the CIFAR-10 test split")
provenance_box(profile=profile, data=f"{n_eval_sets} disjoint sets of {n_eval_images} evaluation images, held out "
               f"from training ({held_out}): {eval_data.description.summary()}",
               model=f"the chapter-4 autoencoders ({describe_networks(configs[0])}), {n_seeds} per dropout rate, "
                     "and their untrained controls, BatchNorm "
                     f"statistics {batchnorm.replace('_', ' ')}", embedded_default=dataset == "patches",
               parameters=declared_parameters("05_spectra", globals()))

# %% [markdown]
# ```{admonition} Can this run test the paper's claims?
# :class: important
# {glue:text}`can_test_text` The largest effect of training: {glue:text}`training_effect_text`; the largest effect
# of dropout: {glue:text}`dropout_effect_text` (mean ± SD over {glue:text}`n_seeds` seeds; the sections below give
# every layer). From chapter 4's losses: {glue:text}`training_verdict_text`.
# ```
#
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
# Every number below is read against two references [ours]: the **input** itself (the pixels, "layer 0", measured
# like any layer), and the **untrained control** of each network: the same architecture with the weights its
# training started from and the same BatchNorm treatment. A spectrum that an untrained network also has is a
# property of the architecture and the images, not of what training (or dropout) did. Each dropout rate has
# {glue:text}`n_seeds` networks (seeds: their own initial weights, batch order and masks); every comparison between
# rates is a mean ± SD over them.
#
# ## Measuring a spectrum
#
# For every network of chapter 4, its control, and every depth (the input, `stem`, the four residual stages, the
# pooled features, the two fully connected layers and the latent mean `mu`) we record the activations of
# evaluation images, flattened per image (channels × height × width), with the network in eval mode: dropout
# off, $z = \mu$, BatchNorm statistics as chosen in the provenance box (chapter 4 explains why they are
# re-estimated). The evaluation images are **held out**: {glue:text}`held_out`. They come in
# {glue:text}`n_eval_sets` disjoint sets of {glue:text}`n_eval_images` images, each measured on its own.
#
# The widest layers have far more units ({glue:text}`max_units`) than a set has images, so their covariance has
# rank at most {glue:text}`max_rank`. Its non-zero eigenvalues are those of the images × images Gram matrix of the
# centred activations, which costs far less to decompose; narrower layers go through the streaming covariance
# accumulator. Both give the same eigenvalues (a test checks this). The exponent $\alpha$ is the slope of
# $\log_{10}\lambda_n$ against $\log_{10} n$ by Huber regression, the paper's choice, over PCs
# {glue:text}`fit_first` to {glue:text}`fit_last`, cut at half the layer's rank where the layer is narrower
# [ours: the sources give no range]. One network's $\alpha$ is the mean over the evaluation sets, and its 95 %
# interval the $t$ interval over them [ours]: fresh images, not images resampled with replacement (which changes
# the finite-sample bias of a spectrum with fewer images than units).

# %% tags=["remove-cell"]
shapes = configs[0].build_model().depth_shapes()
glue_values(dict(n_eval_images=int(n_eval_images), n_eval_sets=int(n_eval_sets), held_out=held_out,
                 fit_first=int(fit_range[0]), fit_last=int(fit_range[1]), max_rank=int(n_eval_images) - 1,
                 max_units=int(max(np.prod(shapes[name]) for name in layers_used))))

# %%
networks = load_networks(configs, **network_store(), max_train_s=max_train_s, max_epochs=max_epochs, device=device,
                         batchnorm=batchnorm, controls=True)
measured = measured_networks(networks)  # every trained network, then one untrained control per seed
keys = [key for key, _ in measured]
spectra = grid_spectra([model for _, model in measured], eval_sets, layers_used, fit_range=fit_range,
                       method=fit_method, n_vectors=n_filters)

# %% [markdown]
# ### What the interval covers
#
# A sample spectrum is not the spectrum. With fewer images than units, the many small eigenvalues of the tail
# add to every sample eigenvalue and flatten the measured slope: the estimate of one set is **biased**, and
# averaging sets does not remove a bias. We measure both on Gaussian activations whose covariance has exactly
# $\lambda_n = n^{\alpha}$, with as many units as the widest layer, {glue:text}`n_eval_images` samples per set and
# the chapter's fit range: {glue:text}`cov_draws` sets are drawn, and every choice of {glue:text}`n_eval_sets` of
# them gives one interval [ours].

# %%
widest = max(s.n_units for s in spectra[0].values())
coverage = interval_coverage(n_eval_images, widest, fit_range, n_eval_sets, coverage_draws, fit_method, seed=seed)

# %% tags=["remove-cell"]
for key, c in (("m1", coverage[-1.0]), ("m2", coverage[-2.0])):
    glue_values({f"cov_{key}": c.coverage, f"cov_{key}_mean": c.coverage_of_mean, f"cov_{key}_bias": c.bias,
                 f"cov_{key}_width": c.mean_width, f"cov_{key}_sd": c.sd_one})
glue_values(dict(cal_units=int(widest), cal_last=int(coverage[-1.0].fit_range[1]), cov_draws=int(coverage_draws)))

# %% [markdown]
# With {glue:text}`cal_units` units, fitted over PCs {glue:text}`fit_first` to {glue:text}`cal_last`: for a true
# $\alpha = -2$ one set's estimate is off by {glue:text}`cov_m2_bias:+.3f` on average (SD {glue:text}`cov_m2_sd:.3f`),
# and the interval over {glue:text}`n_eval_sets` sets (mean width {glue:text}`cov_m2_width:.3f`) contains the truth
# in {glue:text}`cov_m2:.0%` of the draws. A flat spectrum is the hard case, because its tail is heavy: for a true
# $\alpha = -1$ the bias is {glue:text}`cov_m1_bias:+.3f` (the spectrum is measured flatter than it is), the
# interval (width {glue:text}`cov_m1_width:.3f`) contains the truth in {glue:text}`cov_m1:.0%` of the draws, and
# the estimator's own mean in {glue:text}`cov_m1_mean:.0%` ({glue:text}`cov_m2_mean:.0%` at $\alpha = -2$). **What
# the interval covers**: the $\alpha$ that a set of {glue:text}`n_eval_images` images of this layer gives on
# average, i.e. the variation between image sets, not the bias of a finite set and not the variation between
# networks (the seeds below). Differences between networks measured the same way share most of that bias.
#
# ## Spectra by depth (Fig. 3b)

# %% tags=["hide-input"]
first = [i for i, (label, rep) in enumerate(keys) if rep == keys[0][1]]  # the first seed of every label
glue("fig3b", plots.spectra_by_depth([spectra[i] for i in first], [f"{keys[i][0]}, seed {keys[i][1]}"
                                                                    for i in first], fit_method), display=False)

# %% [markdown]
# ```{glue:figure} fig3b
# :name: fig-4-spectra
#
# **The paper's Fig. 3b, regenerated: eigenspectra by depth**, one panel per network (the first seed of each dropout
# rate $p$,
# and its untrained control), one colour per depth (dark: early, light: late), on the first evaluation set. Each
# spectrum is divided by its total variance, which moves it up or down without changing its slope. Dashed black:
# the power-law fit, drawn over exactly the PCs it was fitted on. The layout and the Huber fit are the paper's;
# the networks, images, fit range, normalisation and the control are ours. Spectra stop at the layer's rank: the
# number of units, or {glue:text}`max_rank` for the layers wider than the image set, where the last eigenvalues
# fall off a cliff that is an artefact of the finite sample, not of the code.
# ```

# %% tags=["remove-cell"]
alpha_seeds = seed_table(spectra, keys, lambda s: s.alpha)
glue("alpha_table", format_mean_sd(over_seeds(alpha_seeds)), display=False)
glue("effect_table", format_mean_sd(over_seeds(paired_difference(alpha_seeds).drop(index=INPUT_DEPTH,
                                                                                  errors="ignore"))), display=False)
glue_values(dict(**asdict(depth_trend(spectra, keys)), **asdict(claim_resolution(spectra, keys))))

# %% [markdown]
# ## The exponent by depth (Fig. 3c)

# %% tags=["hide-input"]
glue("fig3c", plots.alpha_by_depth(spectra, keys), display=False)

# %% [markdown]
# ```{glue:figure} fig3c
# :name: fig-4-alpha
#
# **The paper's Fig. 3c, regenerated: the exponent $\alpha$ by depth**, mean ± SD over {glue:text}`n_seeds` seeds for
# each
# dropout rate (colours) and for the untrained controls (grey, dashed); dots: the single networks. Depth 0 is the
# input. Dotted: $\alpha = -1$ (the paper's reference line); the vertical line separates the convolutional stages
# from the dense layers. The measured values, the seeds and the control are ours.
# ```
#
# The input pixels have $\alpha =$ {glue:text}`alpha_input:.2f`. Trends with depth are stated per part, the input
# left out, as Spearman correlations of $\alpha$ with depth within each network (mean ± SD over seeds).
# **Convolutional stages** (stem to layer4): {glue:text}`rho_conv_text`; $\alpha$ is
# {glue:text}`conv_direction` trained, and {glue:text}`conv_direction_control` untrained. **Dense layers**
# (pooled to mu): {glue:text}`rho_dense_text`; $\alpha$ is {glue:text}`dense_direction` trained. In the trained
# networks the convolutional stages have seed-mean $\alpha$ between {glue:text}`alpha_conv_min:.2f` and
# {glue:text}`alpha_conv_max:.2f`, the dense layers between {glue:text}`alpha_dense_min:.2f` and
# {glue:text}`alpha_dense_max:.2f`. Those layers are narrow ({glue:text}`dense_units_min` to
# {glue:text}`dense_units_max` units), so their fits span fewer PCs, and a steep exponent there partly says that a
# small layer's variance sits in a few directions. {glue:text}`n_below_m1` of the {glue:text}`n_alpha` seed-mean
# trained estimates lie below $-1$.
#
# ```{glue:} alpha_table
# ```
#
# **$\alpha$ by depth (rows) and network (columns): mean ± SD over seeds**, {glue:text}`fit_method_name` fit.
#
# What training did is the difference from the control of the same seed: {glue:text}`training_effect_text`.
#
# ```{glue:} effect_table
# ```
#
# **Trained minus untrained $\alpha$, seed by seed: mean ± SD** (negative: training steepened the spectrum; ours).
#
# ### How much the fitting method matters
#
# Huber regression (the paper's) down-weights eigenvalues far from the line; ordinary least squares (OLS) weighs
# every PC alike; the weighted least squares of Stringer et al. (WLS, weights $1/n$) weighs the first PCs most.
# Over the same PCs (seed means):

# %% tags=["remove-cell"]
glue_values(dict(fit_method_name=fit_method, methods_table=methods_table(spectra, keys),
                 **asdict(method_spread(spectra))))

# %% [markdown]
# ```{glue:} methods_table
# ```
#
# **$\alpha$ by Huber / OLS / WLS** over the same PCs, seed means (ours). The methods differ by up to
# {glue:text}`diff_ols:.2f` (Huber against OLS; median {glue:text}`med_ols:.2f`) and up to
# {glue:text}`diff_wls:.2f` (Huber against WLS; median {glue:text}`med_wls:.2f`): a spectrum that is not a
# straight line has no single slope, and each method picks a different compromise: {glue:text}`ols_beyond_text`.
#
# ### What the first principal component is
#
# Natural images vary most in their overall brightness, and a layer can pass that one signal on to every unit.
# For each layer we report PC 1's share of the variance and the correlation (absolute value) of the images'
# scores on it with their **mean brightness** (the mean of all pixel values), both mean ± SD over seeds [ours].

# %% tags=["remove-cell"]
glue_values(dict(pc1_table=pc1_table(spectra, keys), **asdict(leading_component(spectra, keys))))

# %% [markdown]
# ```{glue:} pc1_table
# ```
#
# **PC 1's share of the variance / |correlation| of its scores with the images' mean brightness**, mean ± SD over
# seeds (ours). In the input, PC 1 carries {glue:text}`pc1_input_share:.0%` of the variance and follows the
# brightness with $|r| =$ {glue:text}`pc1_input_corr:.2f`. In the trained networks PC 1 follows the brightness
# ($|r| \ge$ {glue:text}`brightness_threshold:g`) in {glue:text}`n_bright` of {glue:text}`n_pc1_cells` (layer,
# rate) cells ($|r|$ from {glue:text}`pc1_corr_min:.2f` to {glue:text}`pc1_corr_max:.2f`), and in
# {glue:text}`n_bright_control` of {glue:text}`n_control_layers` layers of the untrained control. Its share ranges
# from {glue:text}`pc1_share_min:.0%` ({glue:text}`pc1_share_min_where`) to {glue:text}`pc1_share_max:.0%`
# ({glue:text}`pc1_share_max_where`). A fit that starts at PC 1 is partly a statement about this one component, so
# below every Fig. 5 number is given again from PC {glue:text}`pc2_first` on.
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
quality_table = seed_table([spectra[i] for i in first], [keys[i] for i in first],
                           lambda s: format_quality(s, min_r2)).droplevel("seed", axis=1)
quality_table.index.name = "depth: R² / c₂ / cliff@n"
glue_values(dict(min_r2=float(min_r2), quality_table=quality_table,
                 **asdict(power_law_deviations(spectra, keys, min_r2))))

# %% [markdown]
# ```{glue:} quality_table
# ```
#
# **$R^2$ / curvature $c_2$ / cliff (decades) @ PC of each spectrum over its fit range**, first seed of each
# network, first evaluation set (ours); ✱ marks $R^2 <$ {glue:text}`min_r2:g`.
#
# Over all networks and seeds, {glue:text}`n_far` of the {glue:text}`n_spectra` spectra (the input left out) are
# far from a power law by this criterion: {glue:text}`far_text`; {glue:text}`far_summary`. The three largest cliffs
# are {glue:text}`cliff_text`; the median cliff is {glue:text}`cliff_conv:.2f` decades in the convolutional stages
# and {glue:text}`cliff_dense:.2f` in the dense layers.
#
# ## Eigenvectors as filters (Fig. 3d)

# %% tags=["hide-input"]
filter_layers = [name for name in ("stem", "layer1") if name in layers_used]
show_nets = sorted({first[0], first[-2] if len(first) > 1 else first[0]})  # lowest and highest rate, first seed
titles = [label for label, _ in keys]
glue("fig3d", plots.eigenvector_filters(spectra, titles, shapes, filter_layers, show_nets, n_filters, max_channels=8)
     if filter_layers and n_filters > 0 else
     message_figure("no filters: stem and layer1 not recorded, or n_filters = 0"), display=False)
glue_values(dict(n_filters=int(n_filters), max_channels=8, filter_nets=" and ".join(titles[i] for i in show_nets)))

# %% [markdown]
# ```{glue:figure} fig3d
# :name: fig-4-filters
#
# **The paper's Fig. 3d, regenerated: the top {glue:text}`n_filters` eigenvectors of `stem` and `layer1` shown as
# filters**,
# for the networks at {glue:text}`filter_nets` (first seed). Each row is one principal direction of the layer's
# activity, reshaped to the layer's (channels, height, width); each tile is one channel's map (at most
# {glue:text}`max_channels` channels: all of them when the layer has no more, else those carrying most of the
# eigenvectors' weight, numbered in the tile), red positive, blue negative, on a common scale per row. An
# eigenvector's sign is arbitrary. The display follows the paper's; the rest is ours.
# ```
#
# ## Dropout and the shape of the spectrum (Fig. 5)
#
# The paper's Fig. 5 compares one layer in two networks trained at different dropout rates and reads a more
# curved spectrum at higher dropout as a more redundant, noise-robust code. We overlay the spectra of
# {glue:text}`fig5_layer_name` for every dropout rate and the untrained control ({glue:text}`fig5_why`), and
# measure the deviation from a power law of every layer over seeds, so that no single layer or network has to
# carry the claim.

# %% tags=["hide-input"]
rates = [float(p) for p in dict.fromkeys(dropout_rates)]
glue_values(dict(fig5_layer_name=fig5_layer,
                 fig5_why="the default: the last residual stage, the deepest place where dropout acts"
                 if fig5_layer == "layer4" else "the parameter fig5_layer; the default is layer4"))
glue("fig5", plots.dropout_and_shape(spectra, keys, rates, fig5_layer), display=False)

# %% [markdown]
# ```{glue:figure} fig5
# :name: fig-4-dropout
#
# **The paper's Fig. 5, regenerated and extended.** (a) The eigenspectra of {glue:text}`fig5_layer_name` in every
# network
# of the first seed and its untrained control (grey, dashed), divided by the first eigenvalue, with their power-law
# fits (dotted) over the grey range; the paper shows two networks, we show the whole dropout grid. (b) Deviation
# from a power law, the rms residual about the fit in decades, against the dropout rate, for every layer (the layer
# of panel a drawn thick), mean ± SD over seeds; grey dashed: the untrained control's, for the layer of panel a.
# (c) The curvature $c_2$ (negative: the spectrum bends down over the range; positive: it flattens), the same way.
# Panels b and c, the seeds and the control are ours.
# ```

# %%
pc2_first = max(2, int(fit_range[0]))  # PC 1 alone can make the change: every fit again from PC 2
spectra_pc2 = [{name: refit_from(s, pc2_first) for name, s in spec.items()} for spec in spectra]
run = training_verdict(grid_losses(networks, load_training_data(configs[0], root=data_dir())))  # chapter 4's bar

# %% tags=["remove-cell"]
glue_values(dict(pc2_first=pc2_first, **asdict(dropout_shape(spectra, keys, rates, fig5_layer)),
                 **{f"pc2_{k}": v for k, v in asdict(dropout_shape(spectra_pc2, keys, rates, fig5_layer)).items()}))
glue("alpha_pc2_table", seed_summary(spectra_pc2, keys, lambda s: s.alpha), display=False)
glue_values(dict(training_verdict_text=run.verdict_text, **spectra_claims(
    spectra, spectra_pc2, keys, rates, fig5_layer, testable=run.can_test, why_not=run.reason)))

# %% [markdown]
# In {glue:text}`fig5_layer_name`, the rms deviation from a power law is {glue:text}`f5_rms_first:.3f` ±
# {glue:text}`f5_rms_first_sd:.3f` decades at $p =$ {glue:text}`p_first:g` and {glue:text}`f5_rms_last:.3f` ±
# {glue:text}`f5_rms_last_sd:.3f` at $p =$ {glue:text}`p_last:g` (untrained: {glue:text}`f5_rms_control:.3f`;
# curvature {glue:text}`f5_c2_first:+.2f` and {glue:text}`f5_c2_last:+.2f`; $\alpha$ {glue:text}`f5_alpha_first:.2f`
# and {glue:text}`f5_alpha_last:.2f`; Spearman correlation of the seed-mean deviation with the rate
# {glue:text}`rho_f5:.2f`). Over all {glue:text}`n_layers` layers (the input left out: dropout cannot touch it),
# {glue:text}`n_more_dev` deviate more at the highest rate than at the lowest on average over seeds,
# {glue:text}`n_more_beyond` by more than two seed SDs; the deviation correlates positively with the rate in
# {glue:text}`n_up` (strongly, $\rho \ge 0.8$, in {glue:text}`n_up_strong`). With fits from PC 1, our networks are
# therefore **{glue:text}`f5_verdict`**. The curvature is positive in {glue:text}`n_c2_pos` of the
# {glue:text}`n_c2` trained spectra. The largest cliff of {glue:text}`fig5_layer_name` is
# {glue:text}`f5_cliff_first:.2f` decades at $p =$ {glue:text}`p_first:g` and {glue:text}`f5_cliff_last:.2f` at
# $p =$ {glue:text}`p_last:g`; averaged over layers and seeds, {glue:text}`cliff_mean_first:.2f` and
# {glue:text}`cliff_mean_last:.2f`.
#
# **After PC 1.** Refitting the same spectra from PC {glue:text}`pc2_first` on (no new measurement), the deviation
# of {glue:text}`fig5_layer_name` is {glue:text}`pc2_f5_rms_first:.3f` ± {glue:text}`pc2_f5_rms_first_sd:.3f` at
# $p =$ {glue:text}`p_first:g` and {glue:text}`pc2_f5_rms_last:.3f` ± {glue:text}`pc2_f5_rms_last_sd:.3f` at
# $p =$ {glue:text}`p_last:g`; {glue:text}`pc2_n_more_dev` of {glue:text}`n_layers` layers deviate more at the
# highest rate ({glue:text}`pc2_n_more_beyond` beyond two seed SDs), and the average cliff is
# {glue:text}`pc2_cliff_mean_first:.2f` and {glue:text}`pc2_cliff_mean_last:.2f` decades. On what survives the
# first component, our networks are **{glue:text}`pc2_f5_verdict`**. The exponents from PC {glue:text}`pc2_first`:
#
# ```{glue:} alpha_pc2_table
# ```
#
# **$\alpha$ fitted from PC {glue:text}`pc2_first`, mean ± SD over seeds** (ours).
#
# ```{admonition} The paper's claims, judged by this run (the results page collects them)
# :class: note
# **Fig. 3c**, $\alpha$ changes with depth: **{glue:text}`claim_fig3c`**; {glue:text}`claim_fig3c_reason`.
# Measured: {glue:text}`claim_fig3c_measured`. Against the untrained twins: {glue:text}`claim_fig3c_control`.
# **Fig. 5**, more dropout, more deviation from a power law: **{glue:text}`claim_fig5`**;
# {glue:text}`claim_fig5_reason`. Measured: {glue:text}`claim_fig5_measured`. Against:
# {glue:text}`claim_fig5_control`.
# ```

# %% [markdown]
# ## Cross-validated spectra
#
# A plain spectrum counts all variance, also variance that would not survive the next forward pass. Stringer et
# al. {cite}`stringer2019high` estimate the reliable part with **cross-validated PCA** (cvPCA): record the same
# stimuli twice, find the PCs of the first repeat, and take the covariance of the two repeats' projections on
# each PC; noise, independent between repeats, averages out. Our networks are deterministic in eval mode; their
# only noise is dropout. So our repeats are two passes over the first evaluation set with dropout left on, each
# with its own masks [ours], recorded **before each stage's own last dropout mask** (a mask applied at the
# recorded point would zero most units independently in each repeat at $p = 0.8$, and the low share would be
# mechanical). The trained networks run with their BatchNorm statistics as trained (estimated on dropped-out
# activations, as the repeats are); the untrained control gets the same dropout noise at the same rate, with its
# BatchNorm statistics as in the provenance box. We measure the networks of the highest dropout rate (networks
# without dropout have identical repeats; the intermediate rates are left out to keep the chapter's time).

# %% tags=["hide-input"]
noisy = [net for net in networks if net.dropout == max(rates) > 0] if cv else []  # the highest rate
cv_keys = [(rate_label(n.dropout), n.replicate) for n in noisy] + [(cv_label(n.dropout), n.replicate) for n in noisy]
cv_res = [cross_validated(model, eval_sets[0], layers_used, fit_range=fit_range, seed=seed)
          for model in [n.trained.model for n in noisy] + [n.control for n in noisy]]
if noisy:
    glue("fig_cv", plots.cross_validated_spectra(cv_res, cv_keys, fig5_layer), display=False)
    glue("cv_table", seed_summary(cv_res, cv_keys, lambda c: c.reliable_share()), display=False)
    glue_values(dict(cv_text="shown below", **asdict(reliable_shares(cv_res, cv_keys, max(rates)))))
else:
    glue("fig_cv", message_figure("cvPCA not computed: cv = False, or no dropout rate above 0"), display=False)
    glue("cv_table", message_figure("no cvPCA in this run"), display=False)
    glue_values(dict(cv_text="not computed in this run (the parameter cv, or no rate above 0)", cv_p=np.nan,
                     **{k: np.nan for k in ("cv_rel_min", "cv_rel_max", "cv_ctrl_min", "cv_ctrl_max")},
                     cv_rel_min_layer="n/a", cv_rel_max_layer="n/a", n_cv_above=0, n_cv_below=0, n_cv_layers=0))

# %% [markdown]
# The cross-validated spectra are {glue:text}`cv_text`.
#
# ```{glue:figure} fig_cv
# :name: fig-4-cvpca
#
# **Cross-validated spectra, before each stage's last dropout mask (ours, beyond the paper).** (a)
# {glue:text}`fig5_layer_name`, first seed at the highest rate, and its untrained control with the same dropout
# (grey): the spectrum of the first repeat (lines) and the cvPCA spectrum of the two repeats on the same PCs
# (circles; means over log-spaced bins of PCs, positive bins only), both divided by the repeat's $\lambda_1$. (b)
# The **reliable share**: over the PCs of the fit range, the cvPCA variance divided by the repeat's own variance,
# by depth, mean ± SD over seeds, trained (colours) and untrained with the same dropout (grey); 1 means the second
# repeat reproduces the first exactly.
# ```
#
# ```{glue:} cv_table
# ```
#
# **Reliable share by depth, mean ± SD over seeds** (ours).
#
# At $p =$ {glue:text}`cv_p:g`, the trained networks' reliable share ranges from {glue:text}`cv_rel_min:.2f`
# ({glue:text}`cv_rel_min_layer`) to {glue:text}`cv_rel_max:.2f` ({glue:text}`cv_rel_max_layer`); their untrained
# controls under the same dropout range from {glue:text}`cv_ctrl_min:.2f` to {glue:text}`cv_ctrl_max:.2f` (a
# share of 1 at the stem is by construction: recorded before its only mask, it has no dropout noise).
# Training raised the share beyond two seed SDs in {glue:text}`n_cv_above` of {glue:text}`n_cv_layers` layers and
# lowered it in {glue:text}`n_cv_below`. A share near 1 means the layer's activity along its leading PCs is the
# same whichever units dropout removes, which is what a redundant code (chapter 2) would do; only the part above
# the untrained control's is something training built.
#
# ## Bits lost to the power law (the note's Theorem 4, corrected)
#
# The note bounds what a layer with a decaying spectrum can carry: if unit $i$'s scale is $\sigma_i$ relative to the
# first and each unit resolves $n$ bits at scale 1, the layer holds about $\sum_i \log_2(2^n \sigma_i)$ bits, so it
# loses $-\sum_i \log_2 \sigma_i$ bits to the decay. For eigenvalues (variances) $\lambda_i \propto i^{\alpha}$, the
# scales are $\sigma_i = i^{\alpha/2}$ and the loss over $m$ PCs is $-\tfrac{\alpha}{2}\log_2 m!$ (chapter 2 derives it
# and corrects the note's sign; the book's errata page lists the correction). We compare that prediction, with each
# layer's fitted $\alpha$, to the loss measured from the spectrum itself, $-\tfrac12\sum_{i \le m}
# \log_2(\lambda_i/\lambda_1)$ over the fit range, both per unit and averaged over seeds [ours].

# %% tags=["remove-cell"]
lost_table, ratio = bits_lost_table(spectra, keys)
glue_values(dict(bits_lost_table=lost_table, bits_ratio_median=float(np.median(ratio)),
                 bits_ratio_min=float(ratio.min()), bits_ratio_max=float(ratio.max())))

# %% [markdown]
# ```{glue:} bits_lost_table
# ```
#
# **Bits per unit lost to the spectrum's decay over each fit range**: measured from the eigenvalues / predicted by
# the corrected Theorem 4 from the fitted $\alpha$, seed means (ours). The measured loss is
# {glue:text}`bits_ratio_median:.2f` times the prediction at the median over all spectra (from
# {glue:text}`bits_ratio_min:.2f` to {glue:text}`bits_ratio_max:.2f`): where a spectrum bends away from its power
# law (the table of fit quality above), the theorem's closed form misjudges the loss, since it assumes the law
# holds exactly.
#
# ## What this chapter measured
#
# ````{admonition} Measured α by depth: trained, untrained and the input (this run)
# :class: important
# ```{glue:} alpha_table
# ```
# $\alpha$, mean ± SD over {glue:text}`n_seeds` seeds, {glue:text}`fit_method_name` fit over PCs
# {glue:text}`fit_first` to {glue:text}`fit_last` (at most half the layer's rank), each network's value the mean
# over {glue:text}`n_eval_sets` sets of {glue:text}`n_eval_images` held-out images. Conv stages, Spearman with
# depth: {glue:text}`rho_conv_text`. Dense layers: {glue:text}`rho_dense_text`. {glue:text}`can_test_text`
# ````
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **The paper's:** eigenspectra of the hidden activations by depth on log-log axes, the Huber power-law fit and
# its exponent by depth with the line $\alpha = -1$, eigenvectors shown as filters, the comparison of networks
# trained at different dropout rates, and the reading of a curved spectrum as a redundant code.
# **Ours:** the networks (chapter 4), their seeds and untrained controls, the input as a reference, the held-out
# evaluation sets and the interval over them with its coverage on a known spectrum, the fit range, the split of
# every depth trend into convolutional and dense parts, PC 1's share and its brightness correlation and the fits
# after PC 1, the OLS and WLS comparison, the goodness-of-fit, curvature and deviation measures and the threshold
# for "far from a power law", the whole dropout grid in Fig. 5 with every layer's deviation, the cross-validated
# spectra with dropout as the noise, and every number on this page.
# ```

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a few lines with the library. Its solution, behind the toggle, runs in every build of the
# book, followed by the checks an autograder applies; `polycode assignment` turns this chapter into a student
# notebook (see the instructor's page).
#
# ```{exercise} The flattening of a finite sample
# :label: ex-spec-bias
# Draw 200 samples of 2000 units whose covariance has eigenvalues $\lambda_n = n^{-1}$
# (`power_law_samples` from `polycode_utils.instruments.spectra`), and fit $\alpha$ over PCs 1 to 20 of their sample
# spectrum (`eigenspectrum`, `fit_power_law`) into `alpha_few`; do the same with 4000 samples into `alpha_many`.
# Which is closer to $-1$, and why is the other flatter?
# ```
#
# ```{solution-start} ex-spec-bias
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
from polycode_utils.instruments.spectra import eigenspectrum, fit_power_law, power_law_samples  # noqa: E402

alpha_few = fit_power_law(eigenspectrum(power_law_samples(200, 2000, -1.0, seed=seed)), (1, 20), "huber").alpha
alpha_many = fit_power_law(eigenspectrum(power_law_samples(4000, 2000, -1.0, seed=seed)), (1, 20), "huber").alpha
### END SOLUTION
print(f"alpha with 200 samples {alpha_few:.3f}, with 4000 samples {alpha_many:.3f}")

# %% tags=["check"]
assert abs(alpha_many + 1) < abs(alpha_few + 1) and alpha_few > -1
### BEGIN HIDDEN TESTS
from polycode_utils.instruments.spectra import eigenspectrum, fit_power_law, power_law_samples  # noqa: E402

few = fit_power_law(eigenspectrum(power_law_samples(200, 2000, -1.0, seed=seed)), (1, 20), "huber").alpha
assert abs(alpha_few - few) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# With fewer samples than units, the variance of the many small eigenvalues of the tail is spread over every
# sample eigenvalue: each is lifted by about the same amount, the small ones relatively most, and the spectrum
# flattens. This is the bias that chapter 5's interval does not cover (its coverage table).
#
# ```{solution-end}
# ```
#
# ```{exercise} What training did to one layer
# :label: ex-spec-effect
# From `alpha_seeds` (layers × (network, seed)), compute for the layer `fig5_layer` (the one Fig. 5 overlays) the
# mean over seeds of each network at the highest dropout rate minus its own untrained control (`paired_difference`
# from `polycode_utils.layerwise.common`), into `layer_effect`. Is it larger than the spread of that difference over
# seeds?
# ```
#
# ```{solution-start} ex-spec-effect
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
from polycode_utils.layerwise.common import paired_difference  # noqa: E402

highest = rate_label(max(dropout_rates))
layer_effect = float(paired_difference(alpha_seeds).loc[fig5_layer, highest].mean())
### END SOLUTION
print(f"training moved {fig5_layer}'s alpha by {layer_effect:+.2f} at {rate_label(max(dropout_rates))}")

# %% tags=["check"]
assert np.isfinite(layer_effect)
### BEGIN HIDDEN TESTS
ctrl = alpha_seeds.loc[fig5_layer, "untrained"]
top = alpha_seeds.loc[fig5_layer, rate_label(max(dropout_rates))]
assert abs(layer_effect - float(np.mean([top[s] - ctrl[s] for s in top.index]))) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Bits lost to a power law
# :label: ex-spec-bits
# Over $m = 100$ principal components of an exact power law $\lambda_n = n^{-2}$, the note's Theorem 4 (as
# corrected on the errata page) counts $-\tfrac12\sum_{i\le m}\log_2(\lambda_i/\lambda_1)$ bits lost to the decay.
# Compute it per component into `bits_per_pc` from the eigenvalues, and show that it equals
# $\log_2(m!)/m$.
# ```
#
# ```{solution-start} ex-spec-bits
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
lam = np.arange(1, 101, dtype=float) ** -2.0
bits_per_pc = float(-0.5 * np.sum(np.log2(lam / lam[0])) / 100)
### END SOLUTION
print(f"{bits_per_pc:.4f} bits per component")

# %% tags=["check"]
import math  # noqa: E402

assert abs(bits_per_pc - math.lgamma(101) / math.log(2) / 100) < 1e-9
### BEGIN HIDDEN TESTS
assert 5.2 < bits_per_pc < 5.3
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
