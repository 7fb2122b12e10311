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
# # 3. A network that learns to correct errors

# %% tags=["parameters", "remove-cell"]
profile = "default"
seed = 0
n_samples = 300000
epochs = 4
batch_size = 100
lr = 0.001
dropout = 0.2
init_check_steps = 1000
mi_samples = 20000
decoder_steps = 1500
decoder_components = 4
min_std = 0.001
mine_steps = 1000
mine_batch_size = 512
calibration_nats = [1.0, 3.0, 6.0, 9.0]
bits_per_unit = 1.0
min_gap = 2.0
min_gap_mine = 1.5
assert_results = True
device = "cpu"

# %% tags=["remove-cell"]
import math

import pandas as pd
from myst_nb import glue

from polycode_utils.book.page import declared_parameters, glue_values, provenance_box, set_style
from polycode_utils.book.paths import book_root, cache_dir
from polycode_utils.networks.error_correction import (PassThroughConfig, activation_spread, demonstration_summary,
                                             dropout_layer_capacity, information_by_layer, init_comparison,
                                             measured_layers, reconstruction_mse, train_pass_through,
                                             uniform_decoder_floor, uniform_inputs)
from polycode_utils.instruments.information import known_answer_errors, uniform_entropy
from polycode_utils.plots import error_correction as plots
from polycode_utils.reports.ch03_error_correction import note_fig1_report
from polycode_utils.runtime.workers import resolve_device

# %% tags=["remove-input"]
set_style()
# Every choice is checked before anything is trained (a bad value stops here, naming the parameter).
config = PassThroughConfig(dropout=dropout, n_samples=n_samples, epochs=epochs, batch_size=batch_size, lr=lr,
                           seed=seed)
decoder_options = dict(steps=decoder_steps, components=decoder_components, min_std=min_std,
                       device=resolve_device(device))
mine_options = dict(steps=mine_steps, batch_size=mine_batch_size, device=resolve_device(device))
provenance_box(profile=profile, data=f"x ~ U[-1, 1]^3, drawn from the seed ({n_samples} training samples)",
               model=f"the note's network: {config.depth} dense tanh layers of {config.width} units, a dropout mask "
                     f"(p = {dropout:g}) after every {config.dropout_every}th, trained for {config.steps} steps",
               embedded_default=profile != "paper",
               parameters=declared_parameters("03_error_correction", globals()))

# %% [markdown]
# Chapter 2 showed on paper that a code which repeats its features and re-encodes them in every layer survives
# many dropout layers, while a code that does not loses its features layer after layer. The paper's supplementary
# note {cite}`marshall2024polysemanticity` adds an experiment (its Fig. 1): a deep network, trained with dropout to
# pass its input through, should *learn* such an error-correcting code, and keep the information about its input
# through layers where an untrained network of the same shape loses it. This chapter repeats the experiment live.
#
# ## The network and its task
#
# The input is $x \sim U[-1, 1]^3$ and the target is $x$ itself. The network has {glue:text}`depth` dense layers
# of {glue:text}`width` tanh units and a linear read-out of 3 units. After every {glue:text}`every`th layer a dropout
# mask sets each unit to 0 with probability $p$ = {glue:text}`p` and leaves it as it is otherwise: the authors
# follow Keras' `Dropout` layer, which divides the kept units by $1-p$, by a multiplication by $1-p$, which undoes
# the rescaling; without dropout their network scales those layers by $1-p$, the mask's mean, and so does ours.
# Mean squared error, Adam at learning rate {glue:text}`lr`, batches of {glue:text}`batch_size`; the authors train on
# 1M samples for 4 epochs, this run on {glue:text}`n_samples` samples for {glue:text}`epochs` epochs
# ({glue:text}`steps` steps, {glue:text}`train_seconds:.0f` s on one CPU thread, or read from the cache). The masks are
# on in training and in every measurement below: they are the channel's noise.
#
# The initialisation matters. The authors use Keras' (Glorot-uniform weights, zero biases). PyTorch's default draws
# weights and biases uniformly in $\pm 1/\sqrt{\text{fan-in}}$, which shrinks the spread of a 32-unit tanh layer's
# input by about $1/\sqrt{3}$ per layer. Before training, the standard deviation over inputs of layer
# {glue:text}`depth` (dropout off, averaged over units) is {glue:text}`spread_keras:.2g` with Keras' initialisation and
# {glue:text}`spread_torch:.1g` with PyTorch's, the resolution of 32-bit floats: the deep layers no longer depend on
# the input, and no gradient tells the first layers what to do. Trained from each for {glue:text}`check_steps`
# steps on the same samples, the network with Keras' initialisation reaches a mean squared error of
# {glue:text}`mse_keras_check:.3f` (last 100 steps), the one with PyTorch's stays at {glue:text}`mse_torch_check:.3f`,
# the error of always answering 0 ({glue:text}`zero_mse:.3f`). For comparison, the network measured below, from the
# same initial weights and masks but other batches, was at {glue:text}`mse_main_check:.3f` after as many steps.

# %%
trained = train_pass_through(config, cache_dir=cache_dir())
untrained = config.build_model()  # the same initial weights, never trained: the control
check = init_comparison(config, init_check_steps, cache_dir=cache_dir())
x_test = uniform_inputs(10_000, 3, seed + 1)

# %% tags=["remove-cell"]
spread = {i: float(activation_spread(check[i].config.build_model(), x_test, [config.depth])[0]) for i in check}
mse = {name: reconstruction_mse(model, x_test, seed=seed, dropout_on=on) for name, model, on in (
    ("mse_learnt", trained.model, True), ("mse_learnt_off", trained.model, False),
    ("mse_untrained", untrained, True))}
glue_values(dict(depth=config.depth, width=config.width, every=config.dropout_every, p=dropout, lr=lr,
                 batch_size=batch_size, n_samples=n_samples, epochs=epochs, steps=config.steps,
                 train_seconds=trained.seconds, spread_keras=spread["keras"], spread_torch=spread["torch"],
                 check_steps=init_check_steps, zero_mse=1 / 3, **mse,
                 mse_keras_check=float(check["keras"].step_loss[-100:].mean()),
                 mse_main_check=float(trained.step_loss[:init_check_steps][-100:].mean()),
                 mse_torch_check=float(check["torch"].step_loss[-100:].mean())))

# %% tags=["hide-input"]
glue("fig_training", plots.training_curves(
    {f"Keras init, {config.steps} steps (the network measured below)": trained.step_loss,
     "Keras init, the comparison's samples": check["keras"].step_loss,
     "PyTorch's default init, the same samples": check["torch"].step_loss}, baseline=1 / 3), display=False)

# %% [markdown]
# ```{glue:figure} fig_training
# :name: fig-3-training
#
# **Training with dropout on (ours).** Mean squared error of each batch against the step (running mean over 100
# steps, log scale), for this chapter's network and for the two initialisations trained on the same samples for
# {glue:text}`check_steps` steps. Dashed: the error of answering 0. The network and recipe are the note's; the
# runs are ours.
# ```
#
# After training, with its masks on, the network's mean squared error on fresh inputs is
# {glue:text}`mse_learnt:.3f` per coordinate ({glue:text}`mse_learnt_off:.3f` without dropout), against
# {glue:text}`mse_untrained:.3f` for the untrained network: it has learnt to pass its three numbers through
# {glue:text}`n_masks` masks that each erase a fraction {glue:text}`p` of its units.
#
# ## Measuring information
#
# The note measures the mutual information $I(X; Y_\ell)$ between the input and the activations $Y_\ell$ of a layer,
# with the masks on, using **MINE** {cite}`belghazi2018mine`: a statistics network $T$ maximises the
# Donsker-Varadhan bound $I \ge \mathbb{E}_{P}[T] - \log \mathbb{E}_{P_X P_Y}[e^{T}]$, the second expectation over
# inputs paired with the activations of other inputs. Our MINE follows Belghazi et al., with the moving average
# that corrects the bias of the gradient of the log term (the authors' code uses the plain batch gradient); its
# statistics network has the authors' 3 hidden layers of 64 units. Beside it we use a **decoder bound** [ours]:
# $I(X; Y) = h(X) - h(X \mid Y) \ge h(X) + \mathbb{E} \log q(x \mid y)$ for any density $q$
# {cite}`barber2003im`, with $q$ a mixture of {glue:text}`components` Gaussians computed from $y$ by a small network.
# It is a guaranteed lower bound (up to sampling), since $h(X)$ = 3 ln 2 = {glue:text}`h_x:.3f` nats is known; a
# decoder that ignores $y$ scores at most 0 (one Gaussian: exactly {glue:text}`floor:.2f`). Both are trained on
# {glue:text}`n_train` samples and evaluated on {glue:text}`n_test` held-out ones.
#
# The network has no noise but its masks, so wherever a layer still determines $x$ (layer
# {glue:text}`every` before its mask, for instance) $I(X; Y_\ell)$ is infinite and an estimate reports the
# estimator's resolution, not the layer. To know that resolution we run both estimators, with the same settings,
# on Gaussian channels $Y = X + N$ in 3 dimensions whose information is known, $\tfrac{3}{2}\ln(1 + \mathrm{snr})$:

# %%
calibration = known_answer_errors(calibration_nats, dim=3, n_samples=mi_samples, seed=seed,
                                  decoder_options=decoder_options, mine_options=mine_options)
if assert_results:  # the build fails if the estimators miss the known answers
    assert (calibration.decoder_error.abs() < 0.3).all(), calibration
    assert (calibration[calibration.true <= 3].mine_error.abs() < 0.3).all(), calibration

# %% tags=["remove-cell"]
glue_values(dict(components=decoder_components, h_x=uniform_entropy(3), floor=uniform_decoder_floor(3),
                 cal_dec_max=float(calibration.decoder_error.abs().max()), cal_top=float(calibration.true.max()),
                 cal_mine_top=float(calibration.mine[calibration.true.idxmax()]),
                 calibration_table=calibration.round(3)))

# %% [markdown]
# ```{glue:} calibration_table
# ```
#
# **The estimators on known answers (ours)**: true information, each estimate, its error and standard error, in
# nats. The decoder bound is within {glue:text}`cal_dec_max:.2f` nats of the truth everywhere (for Gaussian $X$
# the best Gaussian decoder is the exact posterior). MINE is close at a few nats and falls short as the
# information grows: at {glue:text}`cal_top:g` nats it reports {glue:text}`cal_mine_top:.2f`, a known weakness of
# the Donsker-Varadhan bound, whose variance grows exponentially with the information {cite}`song2020limitations`.
#
# ## Information through the layers (the note's Fig. 1)

# %%
layers = measured_layers(config)
table = information_by_layer({"learnt": trained.model, "untrained": untrained}, layers, n_samples=mi_samples,
                             seed=seed, decoder_options=decoder_options, mine_options=mine_options)
summary = demonstration_summary(table)
if assert_results:  # the build fails if the trained network does not keep more information than the untrained
    assert summary.gap_last > min_gap and summary.mine_gap_last > min_gap_mine, summary

# %% tags=["remove-cell"]
capacity = dropout_layer_capacity(config, bits_per_unit)
glue_values(dict(**vars(summary), capacity=capacity, bits_per_unit=bits_per_unit, min_gap=min_gap,
                 min_gap_mine=min_gap_mine, n_train=int(table.n_train[0]), n_test=int(table.n_test[0]),
                 n_masks=len(layers) - 1, checked="" if assert_results else " (switched off in this run)",
                 authors_line=32 * 0.7 * math.log(2),  # [note code] log(2) * 32 * 0.7
                 nats_table=table.pivot_table(index=["estimator", "network"], columns="layer", values="nats")
                 .rename(columns={layers[-1]: "out"}).round(2)))
glue("fig_information", plots.information_by_layer(table, necessary=uniform_entropy(3), capacity=capacity),
     display=False)

# %% [markdown]
# ```{glue:figure} fig_information
# :name: fig-3-information
#
# **The note's Fig. 1, regenerated: information about the input by layer**, dropout on, for the trained network
# and the same network untrained, by the decoder bound (solid, ours) and by MINE (dashed, the note's estimator),
# ±1 standard error over the held-out samples. Pink: the note's "necessary information" $h(X)$ = 3 ln 2 nats.
# Gold: the capacity of one dropout layer of {glue:text}`width` units from chapter 2, $(1-p)\,m\,C_b$ with
# $C_b$ = {glue:text}`bits_per_unit:g` bit per unit [ours; the parameter `bits_per_unit`], named at the top when
# it lies far above the data. The experiment and the
# lines are the note's; the networks, estimators' settings and every value are ours.
# ```
#
# ```{glue:} nats_table
# ```
#
# **Nats by layer** (columns: dense layers before their masks, and the read-out), by estimator and network.
#
# By the decoder bound, the trained network keeps {glue:text}`learnt_first:.2f` nats at layer
# {glue:text}`first_layer` and {glue:text}`learnt_last:.2f` at the read-out; the untrained one starts at
# {glue:text}`untrained_first:.2f` and ends at {glue:text}`untrained_last:.2f` (a decoder that ignores the layer
# scores at most 0). At the read-out the trained network holds {glue:text}`gap_last:.2f` nats more than the
# untrained one by the decoder bound and {glue:text}`mine_gap_last:.2f` by MINE; the chapter does not build if these
# fall below {glue:text}`min_gap:g` and {glue:text}`min_gap_mine:g` nats{glue:text}`checked`. Both networks start
# high, where the first layers still determine $x$. From layer {glue:text}`second_layer` to the read-out the
# untrained network loses {glue:text}`untrained_drop:.2f` nats, some at every mask, like chapter 2's
# monosemantic code, and the trained one {glue:text}`learnt_drop:.2f`: training has found a code that the masks
# erase far less.
#
# **What the note's figure showed.** Its learnt network falls from about 3.9 nats to 2.4 and its untrained one
# from just over 4 to about 0.2, on an axis labelled "layer number" from 3 to 60. Those are indices of the Keras
# model's layer list (40 dense, 10 `Dropout`, 10 rescaling and the read-out: 61 entries), measured every third:
# index 60 is the read-out, indices 3, 9, ... are dense layers 4, 8, ... before their masks (ours), and 6,
# 12, ... are dense layers 5, 9, ... after them. Their MINE ran 100 epochs of 40,960 samples at learning rate
# $10^{-4}$ and 50 more at $5 \times 10^{-6}$, three times on one trained network. Our MINE goes from
# {glue:text}`mine_learnt_first:.2f` to {glue:text}`mine_learnt_last:.2f` nats for the trained network and from
# {glue:text}`mine_untrained_first:.2f` to {glue:text}`mine_untrained_last:.2f` for the untrained one, over the same
# span of layers. Their "theoretical limit" line is $\ln 2 \times 32 \times 0.7$ =
# {glue:text}`authors_line:.1f` nats, one bit per unit and a keep rate of 0.7, where $p$ = 0.2 keeps 0.8 (our gold
# line: {glue:text}`capacity:.1f` nats). Their "necessary information" $h(X)$ = 3 ln 2 nats is the differential
# entropy of the input, equal to the information in the signs of its three coordinates (3 bits); passing $x$ on to
# a precision $\delta$ takes about $3 \ln(2/\delta)$ nats. Neither line bounds these measurements: a unit
# with a noiseless real value can carry unbounded information, so a layer that still determines $x$ holds
# infinitely many nats in principle, and what the estimators report there is their own resolution.
#
# ## Error correction, or information kept? The controls the note lacks (ours)
#
# The figure compares a trained network with an untrained one, on one seed. That shows that training keeps
# information; it does not show that the network learnt to *correct erasures*: a network trained without any
# dropout might keep as much under the same masks. So we trained, for each of {glue:text}`study_seeds` seeds, the
# network with dropout and its twin at $p = 0$ (the same initial weights, samples and order), and measured the
# information at the read-out by the decoder bound with the masks on (the twin under masks it never saw) and off
# (`studies/error_correction_control.py`, run once at this chapter's default settings, commit
# {glue:text}`study_commit`, {glue:text}`study_minutes:.0f` min; the table is committed and this page reads it).

# %%
study = pd.read_csv(book_root() / "studies" / "error_correction_control.csv")
glue_values(note_fig1_report(study, config, mi_samples, decoder_options, "the committed control study"))

# %% [markdown]
# ```{glue:} control_table
# ```
#
# **Information at the read-out, in nats (ours)**, by masks and network, one column per seed. Kept against the
# untrained network: **{glue:text}`claim_note_fig1`** ({glue:text}`claim_note_fig1_control`). Corrected against
# the twin trained without dropout: **{glue:text}`claim_note_fig1_correction`**
# ({glue:text}`claim_note_fig1_correction_control`). With the masks off, the same difference is
# {glue:text}`masks_off_effect`. Both verdicts count seeds, the independent cases, not the layers or estimators of
# one network; they need this chapter's default settings, and at any other the page says they are not testable.
#
# ```{admonition} The note's and ours in this chapter
# :class: note
# **The note's:** the network, its task and training recipe (its Keras code), the plain dropout mask, Keras'
# initialisation, the measurement of $I(X; Y_\ell)$ with dropout on for a trained and an untrained network, MINE's
# statistics network, the necessary-information line, and the claim that the trained network corrects errors.
# **Ours:** the training size of this profile, MINE's bias-corrected gradient and held-out evaluation, the decoder
# bound, the known-answer checks of both estimators, the explanation of the initialisation, the capacity line's
# $C_b$, the map from the note's layer indices to dense layers, the assertions, the control study (seeds, the twin
# trained without dropout, masks off), and every number on this page.
# ```

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a few lines with the library. Its solution, behind the toggle, runs in every build of the
# book, followed by the checks an autograder applies; `polycode assignment` turns this chapter into a student
# notebook (see the instructor's page).
#
# ```{exercise} The information the input holds
# :label: ex-ec-entropy
# The network's input is $x \sim U[-1, 1]^3$. Compute its differential entropy $h(X)$ in nats, by hand, into
# `h_x`, and check it with `uniform_entropy`. It is not a bound on what a layer carries about $x$: a real-valued,
# noiseless unit can carry unboundedly many nats (the chapter says why), and differential entropy can be negative.
# What does $h(X)$ measure, then? (Passing $x$ on to a precision $\delta$ takes about $3 \ln(2/\delta)$ nats.)
# ```
#
# ```{solution-start} ex-ec-entropy
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
h_x = 3 * math.log(2.0)
### END SOLUTION
print(f"h(X) = {h_x:.4f} nats")

# %% tags=["check"]
from polycode_utils.instruments.information import uniform_entropy  # noqa: E402

assert abs(h_x - uniform_entropy(3)) < 1e-12
### BEGIN HIDDEN TESTS
assert abs(h_x - 2.0794) < 1e-3
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} The capacity line of one dropout layer
# :label: ex-ec-line
# Chapter 2's capacity of a layer of $m$ units under dropout $p$ is at most $(1-p)\,m\,C_b$ bits. For this
# chapter's network (`config.width` units, `config.dropout`) and $C_b = 1$ bit, compute it in nats into
# `line_nats`, and check it with `dropout_layer_capacity`.
# ```
#
# ```{solution-start} ex-ec-line
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
line_nats = (1 - config.dropout) * config.width * 1.0 * math.log(2.0)
### END SOLUTION
print(f"(1 - p) m C_b = {line_nats:.2f} nats")

# %% tags=["check"]
from polycode_utils.networks.error_correction import dropout_layer_capacity  # noqa: E402

assert abs(line_nats - dropout_layer_capacity(config, 1.0)) < 1e-9
### BEGIN HIDDEN TESTS
assert line_nats > 0
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} A channel of known information
# :label: ex-ec-gauss
# The estimators of this chapter were calibrated on Gaussian channels $Y = X + N$ with $X \sim N(0, I_d)$ and
# independent noise of variance $1/\mathrm{SNR}$. Derive $I(X; Y)$ for $d = 2$ and $\mathrm{SNR} = 3$ in nats into
# `i_gauss`, and check it with `gaussian_channel_information`.
# ```
#
# ```{solution-start} ex-ec-gauss
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
i_gauss = 2 / 2 * math.log(1 + 3.0)
### END SOLUTION
print(f"I(X; Y) = {i_gauss:.4f} nats")

# %% tags=["check"]
from polycode_utils.instruments.information import gaussian_channel_information  # noqa: E402

assert abs(i_gauss - gaussian_channel_information(2, 3.0)) < 1e-12
### BEGIN HIDDEN TESTS
assert abs(i_gauss - math.log(4.0)) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
