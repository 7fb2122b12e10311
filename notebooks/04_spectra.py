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
dataset = "patches"
dropout_rates = [0.0, 0.2, 0.4, 0.6, 0.8]
width = 8
latent_dim = 32
epochs = 4
n_patches = 3000
batch_size = 50
lr = 0.001
device = "auto"
layers = ["stem", "layer1", "layer2", "layer3", "layer4", "pooled", "fc1", "fc2", "mu"]
n_eval_images = 1000
fit_range = [1, 100]
fit_method = "huber"
n_bootstrap = 50
cv = True
batchnorm = "recalibrated"
min_r2 = 0.9
fig5_layer = "layer4"
n_filters = 4

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from myst_nb import glue
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from polycode_utils.depth import (EVAL_SEED_OFFSET, chapter3_configs, check_layers, evaluation_images,
                                  layer_spectra, load_networks, power_law_samples, spectrum_of)
from polycode_utils.display import message_figure, provenance_box, set_style
from polycode_utils.spectra import FIT_METHODS
from polycode_utils.training import resolve_device

CACHE_DIR = "../_build/cache"   # the networks chapter 3 trained (trained here, the same way, if missing)
CIFAR_ROOT = "../data"          # where CIFAR-10 is looked for (never downloaded)

set_style()
# Every choice is checked before anything is loaded (a bad value stops here, naming the parameter).
configs = chapter3_configs(dropout_rates, seed=seed, dataset=dataset, width=width, latent_dim=latent_dim,
                           epochs=epochs, n_patches=n_patches, batch_size=batch_size, lr=lr)
layers_used = check_layers(layers)
if fig5_layer not in layers_used:
    raise ValueError(f"fig5_layer: must be one of the recorded layers {layers_used}, got {fig5_layer!r}")
if fit_method not in FIT_METHODS:
    raise ValueError(f"fit_method: must be one of {', '.join(FIT_METHODS)}, got {fit_method!r}")
resolve_device(device)
eval_data = evaluation_images(dataset, n_eval_images, seed=seed, root=CIFAR_ROOT)
held_out = (f"fresh random crops drawn with seed {seed} + {EVAL_SEED_OFFSET} (the training crops use seed {seed})"
            if dataset == "patches" else "the CIFAR-10 test split")
provenance_box(profile=profile, data=f"evaluation images, held out from training ({held_out}): "
               f"{eval_data.description.summary()}",
               model=f"the chapter-3 autoencoders (base width {width}, latent {latent_dim}, {epochs} epochs on "
                     f"{n_patches} images), one per dropout rate, BatchNorm statistics {batchnorm.replace('_', ' ')}",
               embedded_default=dataset == "patches",
               parameters=dict(seed=seed, dataset=dataset, dropout_rates=dropout_rates, width=width,
                               latent_dim=latent_dim, epochs=epochs, n_patches=n_patches, batch_size=batch_size,
                               lr=lr, device=device, layers=layers, n_eval_images=n_eval_images,
                               fit_range=fit_range, fit_method=fit_method, n_bootstrap=n_bootstrap, cv=cv,
                               batchnorm=batchnorm, min_r2=min_r2, fig5_layer=fig5_layer, n_filters=n_filters))

# %% [markdown]
# Chapter 2 argued that a layer under dropout should spend its units on a **redundant** code. This chapter
# looks for redundancy in the networks of chapter 3 the way the paper {cite}`marshall2024polysemanticity` does:
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
# For every network of chapter 3 and every depth (`stem`, the four residual stages, the pooled features, the two
# fully connected layers and the latent mean `mu`) we record the activations of {glue:text}`n_eval_images`
# evaluation images, flattened per image (channels × height × width), with the network in eval mode: dropout
# off, $z = \mu$, BatchNorm statistics as chosen in the provenance box (chapter 3 explains why they are
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
glue("n_eval_images", int(len(eval_data)), display=False)
glue("held_out", held_out, display=False)
glue("fit_first", int(fit_range[0]), display=False)
glue("fit_last", int(fit_range[1]), display=False)
glue("n_bootstrap", int(n_bootstrap), display=False)
glue("max_rank", int(len(eval_data) - 1), display=False)
shapes = configs[0].build_model().depth_shapes()
glue("max_units", int(max(np.prod(shapes[name]) for name in layers_used)), display=False)

# %%
networks = load_networks(configs, device=device, batchnorm=batchnorm, cache_dir=CACHE_DIR, data_root=CIFAR_ROOT)
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
def covers(s, a: float) -> str:
    if not np.isfinite(s.ci[0]):
        return "no interval: no bootstrap in this run"
    miss = max(s.ci[0] - a, a - s.ci[1], 0.0)
    return "it contains the truth" if miss == 0 else f"it misses the truth by {miss:.3f}"


for a, s in calibration.items():
    key = "m1" if a == -1.0 else "m2"
    glue(f"cal_{key}_alpha", s.alpha, display=False)
    glue(f"cal_{key}_lo", s.ci[0], display=False)
    glue(f"cal_{key}_hi", s.ci[1], display=False)
    glue(f"cal_{key}_covers", covers(s, a), display=False)
glue("cal_units", int(widest), display=False)
glue("cal_last", int(calibration[-1.0].fit.fit_range[1]), display=False)
glue("cal_half_last", int(calibration_half.fit.fit_range[1]), display=False)
glue("cal_half_alpha", calibration_half.alpha, display=False)
glue("cal_half_lo", calibration_half.ci[0], display=False)
glue("cal_half_hi", calibration_half.ci[1], display=False)
glue("cal_half_covers", covers(calibration_half, -1.0), display=False)

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
depth_colors = dict(zip(layers_used, sns.color_palette("viridis", len(layers_used))))
n_nets = len(networks)
ncols = min(3, n_nets + 1)
nrows = int(np.ceil((n_nets + 1) / ncols))
fig3b, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), sharex=True, sharey=True,
                           squeeze=False)
axes = axes.ravel()
for ax, net, spec in zip(axes, networks, spectra):
    for name, s in spec.items():
        lam = s.eigenvalues[:s.rank]
        total = lam.sum()
        n = np.arange(1, lam.size + 1)
        ax.loglog(n, lam / total, color=depth_colors[name], lw=1.3)
        first, last = s.fit.fit_range
        nn = np.array([first, last], dtype=float)
        ax.loglog(nn, 10 ** s.fit.intercept * nn ** s.alpha / total, color="k", ls="--", lw=0.9)
    ax.set_title(f"dropout p = {net.dropout:g}")
for ax in axes[::ncols]:
    ax.set_ylabel(r"$\lambda_n / \sum \lambda$")
for ax in axes[-ncols:]:
    ax.set_xlabel("principal component $n$")
legend_ax = axes[n_nets]
legend_ax.axis("off")
handles = [plt.Line2D([], [], color=c, lw=2, label=name) for name, c in depth_colors.items()]
handles.append(plt.Line2D([], [], color="k", ls="--", label=f"{fit_method} fit (over its range)"))
legend_ax.legend(handles=handles, loc="center", title="depth", fontsize="small")
for ax in axes[n_nets + 1:]:
    ax.axis("off")
fig3b.tight_layout()
glue("fig3b", fig3b, display=False)
plt.close(fig3b)

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
def fmt_ci(s) -> str:
    return f"{s.alpha:.2f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}]" if np.isfinite(s.ci[0]) else f"{s.alpha:.2f}"


p_labels = [f"p = {net.dropout:g}" for net in networks]
alpha_table = pd.DataFrame({lab: {name: fmt_ci(s) for name, s in spec.items()} for lab, spec in zip(p_labels, spectra)})
alpha_table.index.name = "depth"
glue("alpha_table", alpha_table, display=False)
alpha = pd.DataFrame({lab: {name: s.alpha for name, s in spec.items()} for lab, spec in zip(p_labels, spectra)})
depth_index = np.arange(len(layers_used))
rho = [spearmanr(depth_index, alpha[lab]).statistic if len(layers_used) > 2 else np.nan for lab in p_labels]
conv = [name for name in layers_used if name in ("stem", "layer1", "layer2", "layer3", "layer4")]
dense = [name for name in layers_used if name not in conv]
glue("alpha_conv_min", float(alpha.loc[conv].min().min()) if conv else np.nan, display=False)
glue("alpha_conv_max", float(alpha.loc[conv].max().max()) if conv else np.nan, display=False)
glue("alpha_dense_min", float(alpha.loc[dense].min().min()) if dense else np.nan, display=False)
glue("alpha_dense_max", float(alpha.loc[dense].max().max()) if dense else np.nan, display=False)
dense_units = [spectra[0][name].n_units for name in dense] or [0]
glue("dense_units_min", int(min(dense_units)), display=False)
glue("dense_units_max", int(max(dense_units)), display=False)
glue("alpha_first_layer", layers_used[0], display=False)
glue("alpha_last_layer", layers_used[-1], display=False)
glue("alpha_first_p0", float(alpha.iloc[0, 0]), display=False)
glue("alpha_last_p0", float(alpha.iloc[-1, 0]), display=False)
glue("p_first", float(networks[0].dropout), display=False)
glue("rho_mean", float(np.nanmean(rho)) if np.isfinite(rho).any() else np.nan, display=False)
glue("rho_min", float(np.nanmin(rho)) if np.isfinite(rho).any() else np.nan, display=False)
glue("rho_max", float(np.nanmax(rho)) if np.isfinite(rho).any() else np.nan, display=False)
n_steeper = int(sum(alpha.iloc[-1] < alpha.iloc[0]))
glue("n_steeper", n_steeper, display=False)
glue("n_networks", n_nets, display=False)
if np.all(np.array(rho) < 0):
    direction = "more negative (steeper) with depth in every network"
elif np.all(np.array(rho) > 0):
    direction = "less negative (flatter) with depth in every network"
else:
    direction = "not ordered the same way by depth in every network"
glue("alpha_direction", direction, display=False)
below = (alpha < -1).sum().sum()
glue("n_below_m1", int(below), display=False)
glue("n_alpha", int(alpha.size), display=False)

# %% [markdown]
# ## The exponent by depth (Fig. 3c)

# %% tags=["hide-input"]
net_colors = sns.color_palette("flare", n_nets)
fig3c, ax = plt.subplots(figsize=(7.5, 3.8))
offsets = np.linspace(-0.2, 0.2, n_nets) if n_nets > 1 else [0.0]
for net, spec, color, off in zip(networks, spectra, net_colors, offsets):
    a = np.array([s.alpha for s in spec.values()])
    lo = np.array([s.ci[0] for s in spec.values()])
    hi = np.array([s.ci[1] for s in spec.values()])
    ax.plot(depth_index + off, a, "o-", color=color, ms=4, lw=1.2, label=f"p = {net.dropout:g}")
    if np.isfinite(lo).all():
        ax.vlines(depth_index + off, lo, hi, color=color, lw=2.5, alpha=0.6)
ax.axhline(-1, color="k", ls="--", lw=1, label=r"$\alpha = -1$")
ax.set(xticks=depth_index, xticklabels=layers_used, xlabel="depth", ylabel=r"power-law exponent $\alpha$")
ax.legend(title="dropout", fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
fig3c.tight_layout()
glue("fig3c", fig3c, display=False)
plt.close(fig3c)

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
glue("fit_method_name", fit_method, display=False)
methods_table = pd.DataFrame({lab: {name: " / ".join(f"{s.alphas[m]:.2f}" for m in FIT_METHODS)
                                    for name, s in spec.items()} for lab, spec in zip(p_labels, spectra)})
methods_table.index.name = "depth: " + " / ".join(FIT_METHODS)
glue("methods_table", methods_table, display=False)
diff_ols = max(abs(s.alphas["huber"] - s.alphas["ols"]) for spec in spectra for s in spec.values())
diff_wls = max(abs(s.alphas["huber"] - s.alphas["wls"]) for spec in spectra for s in spec.values())
med_wls = float(np.median([abs(s.alphas["huber"] - s.alphas["wls"]) for spec in spectra for s in spec.values()]))
med_ols = float(np.median([abs(s.alphas["huber"] - s.alphas["ols"]) for spec in spectra for s in spec.values()]))
glue("diff_ols", diff_ols, display=False)
glue("diff_wls", diff_wls, display=False)
glue("med_ols", med_ols, display=False)
glue("med_wls", med_wls, display=False)
n_ols_beyond = int(sum(abs(s.alphas["huber"] - s.alphas["ols"]) > s.ci[1] - s.ci[0]
                       for spec in spectra for s in spec.values()))
n_all_spectra = sum(len(spec) for spec in spectra)
glue("ols_beyond_text", f"in {n_ols_beyond} of the {n_all_spectra} spectra the OLS estimate differs from Huber's by "
     f"more than the width of Huber's bootstrap interval" if n_bootstrap else
     "without the bootstrap (n_bootstrap = 0) there is no interval to compare the differences with", display=False)

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
glue("min_r2", float(min_r2), display=False)
quality_table = pd.DataFrame({lab: {name: f"{s.quality.r2:.3f} / {s.quality.curvature:+.2f} / "
                                          f"{s.quality.cliff:.2f}@{s.quality.cliff_at}"
                                    + (" ✱" if s.quality.r2 < min_r2 else "")
                                    for name, s in spec.items()} for lab, spec in zip(p_labels, spectra)})
quality_table.index.name = "depth: R² / c₂ / cliff@n"
glue("quality_table", quality_table, display=False)
far = [(name, net.dropout, s) for net, spec in zip(networks, spectra) for name, s in spec.items()
       if s.quality.r2 < min_r2]
glue("n_far", len(far), display=False)
glue("n_spectra", int(sum(len(spec) for spec in spectra)), display=False)
if far:
    far_text = "; ".join(f"{name} at p = {p:g} (R² {s.quality.r2:.3f}, c₂ {s.quality.curvature:+.2f}, cliff "
                         f"{s.quality.cliff:.2f} decades after PC {s.quality.cliff_at})" for name, p, s in far)
    far_layers = sorted({name for name, _, _ in far}, key=layers_used.index)
    late = sum(layers_used.index(name) >= len(layers_used) / 2 for name, _, _ in far)
    far_summary = (f"{late} of them lie in the later half of the network "
                   f"({', '.join(far_layers)} in all)")
else:
    far_text, far_summary = "none", "every measured spectrum is close to a power law by this criterion"
glue("far_text", far_text, display=False)
glue("far_summary", far_summary, display=False)
cliffs = sorted(((s.quality.cliff, name, net.dropout, s.quality.cliff_at) for net, spec in zip(networks, spectra)
                 for name, s in spec.items()), reverse=True)
glue("cliff_text", "; ".join(f"{name} at p = {p:g}, {c:.2f} decades after PC {at}"
                             for c, name, p, at in cliffs[:3]), display=False)
half = len(layers_used) / 2
early_c = [s.quality.cliff for spec in spectra for name, s in spec.items() if layers_used.index(name) < half]
late_c = [s.quality.cliff for spec in spectra for name, s in spec.items() if layers_used.index(name) >= half]
glue("cliff_early", float(np.median(early_c)) if early_c else np.nan, display=False)
glue("cliff_late", float(np.median(late_c)) if late_c else np.nan, display=False)

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
show_nets = sorted({0, n_nets - 1})
max_channels = 8
fig3d = None
if filter_layers and n_filters > 0:
    rows = [(i, name, r) for name in filter_layers for i in show_nets for r in range(n_filters)]
    n_ch = min(max_channels, shapes[filter_layers[0]][0])
    fig3d, axes = plt.subplots(len(rows), n_ch, figsize=(0.8 * n_ch + 2.2, 0.8 * len(rows) + 0.3),
                               squeeze=False)
    blocks = {}  # (network, layer) -> the channels shown: all, or those carrying most of the top eigenvectors
    for i, name, _ in rows:
        v = spectra[i][name].vectors.T.reshape(-1, *shapes[name])
        blocks[i, name] = np.sort(np.argsort((v ** 2).sum(axis=(0, 2, 3)))[::-1][:n_ch])
    for row, (i, name, r) in enumerate(rows):
        s = spectra[i][name]
        if r >= s.vectors.shape[1]:
            for ax in axes[row]:
                ax.axis("off")
            continue
        v = s.vectors[:, r].reshape(shapes[name])
        channels = blocks[i, name]
        vmax = np.abs(v[channels]).max()
        for col, (ax, ch) in enumerate(zip(axes[row], channels)):
            ax.imshow(v[ch], cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if row == 0 and n_ch == shapes[name][0]:
                ax.set_title(f"channel {ch}", fontsize="x-small")
            elif n_ch < shapes[name][0]:
                ax.text(1, 1, str(ch), fontsize=6, va="top", ha="left")
        axes[row, 0].set_ylabel(f"{name}, p = {networks[i].dropout:g}, PC {r + 1}", rotation=0, ha="right",
                                va="center", fontsize="x-small")
    fig3d.subplots_adjust(wspace=0.05, hspace=0.08, left=2.1 / (0.8 * n_ch + 2.2), right=0.99,
                          top=1 - 0.3 / (0.8 * len(rows) + 0.3), bottom=0.01)
    glue("fig3d", fig3d, display=False)
    plt.close(fig3d)
else:
    glue("fig3d", message_figure("no filters: stem and layer1 not recorded, or n_filters = 0"), display=False)
glue("n_filters", int(n_filters), display=False)
glue("max_channels", max_channels, display=False)
glue("filter_nets", " and ".join(f"p = {networks[i].dropout:g}" for i in show_nets), display=False)

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
glue("fig5_layer_name", fig5_layer, display=False)
glue("fig5_why", "the default: the last residual stage, the deepest place where dropout acts"
     if fig5_layer == "layer4" else "the parameter fig5_layer; the default is layer4", display=False)
fig5, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(14, 3.9), gridspec_kw=dict(width_ratios=(1.2, 1, 1)))
for net, spec, color in zip(networks, spectra, net_colors):
    s = spec[fig5_layer]
    lam = s.eigenvalues[:s.rank]
    n = np.arange(1, lam.size + 1)
    ax_a.loglog(n, lam / lam[0], color=color, lw=1.5, label=f"p = {net.dropout:g}")
    first, last = s.fit.fit_range
    nn = np.array([first, last], dtype=float)
    ax_a.loglog(nn, 10 ** s.fit.intercept * nn ** s.alpha / lam[0], color=color, ls="--", lw=0.9)
ax_a.axvspan(*spectra[0][fig5_layer].fit.fit_range, color="0.9", zorder=0)
ax_a.set(xlabel="principal component $n$", ylabel=r"$\lambda_n / \lambda_1$", title=f"(a) {fig5_layer}")
ax_a.legend(fontsize="small", title="dropout")
rates = np.array([net.dropout for net in networks])
for name in layers_used:
    rms = [spec[name].quality.rms_residual for spec in spectra]
    c2 = [spec[name].quality.curvature for spec in spectra]
    lw, z = (2.6, 3) if name == fig5_layer else (1.2, 2)
    ax_b.plot(rates, rms, "o-", color=depth_colors[name], lw=lw, ms=4, zorder=z, label=name)
    ax_c.plot(rates, c2, "o-", color=depth_colors[name], lw=lw, ms=4, zorder=z)
ax_c.axhline(0, color="k", lw=0.8)
ax_b.set(xlabel="dropout rate $p$", ylabel="rms residual (decades)", title="(b) deviation from a power law")
ax_c.set(xlabel="dropout rate $p$", ylabel="curvature $c_2$ (per decade²)", title="(c) curvature")
ax_b.legend(fontsize="x-small", ncol=2, title="depth")
fig5.tight_layout()
glue("fig5", fig5, display=False)
plt.close(fig5)

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
f5 = [spec[fig5_layer].quality for spec in spectra]
glue("f5_rms_first", f5[0].rms_residual, display=False)
glue("f5_rms_last", f5[-1].rms_residual, display=False)
glue("f5_c2_first", f5[0].curvature, display=False)
glue("f5_c2_last", f5[-1].curvature, display=False)
glue("f5_r2_first", f5[0].r2, display=False)
glue("f5_r2_last", f5[-1].r2, display=False)
glue("f5_alpha_first", spectra[0][fig5_layer].alpha, display=False)
glue("f5_cliff_first", f5[0].cliff, display=False)
mean_cliff = [float(np.mean([s.quality.cliff for s in spec.values()])) for spec in spectra]
glue("cliff_mean_first", mean_cliff[0], display=False)
glue("cliff_mean_last", mean_cliff[-1], display=False)
glue("rho_cliff", float(spearmanr(rates, mean_cliff).statistic) if n_nets >= 3 else np.nan, display=False)
glue("f5_cliff_last", f5[-1].cliff, display=False)
n_c2_pos = int(sum(s.quality.curvature > 0 for spec in spectra for s in spec.values()))
n_all = sum(len(spec) for spec in spectra)
glue("n_c2_pos", n_c2_pos, display=False)
glue("c2_text", "where our spectra bend, most flatten after a steep head" if n_c2_pos > n_all / 2 else
     "where our spectra bend, most bend down", display=False)
glue("f5_alpha_last", spectra[-1][fig5_layer].alpha, display=False)
glue("p_last", float(networks[-1].dropout), display=False)
if n_nets >= 3:
    rho_dev = {name: spearmanr(rates, [spec[name].quality.rms_residual for spec in spectra]).statistic
               for name in layers_used}
else:
    rho_dev = {name: float(np.sign(spectra[-1][name].quality.rms_residual - spectra[0][name].quality.rms_residual))
               for name in layers_used}
n_up = sum(r > 0 for r in rho_dev.values())
n_up_strong = sum(r >= 0.8 for r in rho_dev.values())
n_more_dev = sum(spectra[-1][name].quality.rms_residual > spectra[0][name].quality.rms_residual
                 for name in layers_used)
glue("n_layers", len(layers_used), display=False)
glue("n_up", int(n_up), display=False)
glue("n_up_strong", int(n_up_strong), display=False)
glue("n_more_dev", int(n_more_dev), display=False)
glue("rho_f5", float(rho_dev[fig5_layer]), display=False)
f5_more = f5[-1].rms_residual > f5[0].rms_residual
if n_more_dev == len(layers_used) and f5_more:
    verdict = ("consistent with the paper's claim: every layer deviates more from a power law at the highest "
               "dropout rate than without dropout")
elif n_more_dev > len(layers_used) / 2:
    verdict = ("partly consistent with the paper's claim: most layers, but not all, deviate more from a power law "
               "at the highest dropout rate than at the lowest, and the deviation does not always grow steadily "
               "with the rate")
else:
    verdict = ("not consistent with the paper's claim: most layers do not deviate more from a "
               "power law at the highest dropout rate than at the lowest")
glue("f5_verdict", verdict, display=False)

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
# the table above says after which PC each cliff falls). These are small networks trained briefly (chapter 3),
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
fig_cv = None
if cv:
    def log_binned(values: np.ndarray, n_bins: int = 18) -> tuple[np.ndarray, np.ndarray]:
        """Mean of values in log-spaced bins of the PC index (cv spectra are noisy PC by PC)."""
        edges = np.unique(np.geomspace(1, values.size + 1, n_bins + 1).astype(int))
        centres = np.sqrt(edges[:-1] * (edges[1:] - 1).clip(min=edges[:-1]))
        means = np.array([values[a - 1:b - 1].mean() for a, b in zip(edges[:-1], edges[1:])])
        return centres, means

    fig_cv, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(12, 3.9))
    for net, spec, color in zip(networks, spectra, net_colors):
        s = spec[fig5_layer]
        lam = s.repeat_eigenvalues[:s.rank]
        ax_a.loglog(np.arange(1, lam.size + 1), lam / lam[0], color=color, lw=1.2)
        c, mvals = log_binned(s.cv_eigenvalues[:s.rank])
        ok = mvals > 0
        ax_a.loglog(c[ok], mvals[ok] / lam[0], "o", color=color, ms=4, mfc="white", label=f"p = {net.dropout:g}")
        ax_b.plot(depth_index, [spec[name].reliable_share() for name in layers_used], "o-", color=color, ms=4,
                  label=f"p = {net.dropout:g}")
    ax_a.set(xlabel="principal component $n$", ylabel=r"$\lambda_n / \lambda_1$",
             title=f"(a) {fig5_layer}: repeat 1 (lines) and cvPCA (circles)")
    ax_a.legend(fontsize="small", title="dropout")
    ax_b.axhline(1, color="k", lw=0.8)
    ax_b.set(xticks=depth_index, xticklabels=layers_used, xlabel="depth",
             ylabel="reliable share of variance", title="(b) variance reproduced across dropout masks")
    fig_cv.tight_layout()
    glue("fig_cv", fig_cv, display=False)
    plt.close(fig_cv)
    rel = pd.DataFrame({lab: {name: spec[name].reliable_share() for name in layers_used}
                        for lab, spec in zip(p_labels, spectra)})
    glue("cv_rel_min", float(rel.iloc[:, -1].min()), display=False)
    glue("cv_rel_min_layer", str(rel.iloc[:, -1].idxmin()), display=False)
    glue("cv_rel_max", float(rel.iloc[:, -1].max()), display=False)
    glue("cv_rel_max_layer", str(rel.iloc[:, -1].idxmax()), display=False)
    glue("cv_text", "shown below", display=False)
else:
    glue("fig_cv", message_figure("cvPCA switched off in this run (cv = False)"), display=False)
    glue("cv_text", "switched off in this run (the parameter cv)", display=False)
    for key in ("cv_rel_min", "cv_rel_max"):
        glue(key, float("nan"), display=False)
    for key in ("cv_rel_min_layer", "cv_rel_max_layer"):
        glue(key, "n/a", display=False)

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
# **Ours:** the networks (chapter 3), the held-out evaluation images, the fit range and its calibration on a known
# spectrum, the bootstrap intervals, the OLS and WLS comparison, the goodness-of-fit, curvature and deviation
# measures and the threshold for "far from a power law", the whole dropout grid in Fig. 5 with every layer's
# deviation, the cross-validated spectra with dropout as the noise, and every number on this page.
# ```
