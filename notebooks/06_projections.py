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
# # 6. Random projections of a moving dot

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
n_frames = 100
sweep_frames = [50, 100, 200, 400, 800]
radius = 5.0
dot_radius = 1.5
n_projections = 1000
k = 3
show_dropout = 0.0
normalise = "variance"
n_eval_images = 1000
fit_range = [1, 100]
fit_method = "huber"
batchnorm = "recalibrated"

# %% tags=["remove-cell"]
import numpy as np
from tqdm.auto import tqdm

from polycode_utils.book.page import declared_parameters, glue_values, provenance_box, set_style
from polycode_utils.book.paths import data_dir, network_store
from polycode_utils.checks import check_choice
from polycode_utils.networks.data import evaluation_images
from polycode_utils.layerwise.actions import (NORMALISATIONS, circle_action, iid_action, loop_frames, measure_dot)
from polycode_utils.reports.ch06_projections import (action_alpha, action_claims, action_order, action_theory,
                                                     alpha_relation, control_ratio_table, exponent_table, last_dot_pc,
                                                     monte_carlo_gap, noise_like_layers, scaling_law,
                                                     shown_network_index, stringer_check, tracking_r2, trend_table)
from polycode_utils.networks.grid import rate_label
from polycode_utils.layerwise.common import format_mean_sd, measured_networks, over_seeds, seed_table
from polycode_utils.layerwise.eigenspectra import layer_spectra

# %% tags=["remove-cell"]
from polycode_utils.networks.models import INPUT_DEPTH, check_layers
from polycode_utils.plots.projections import (plot_action_against_alpha, plot_action_by_depth, plot_action_scaling,
                                              plot_action_theory, plot_dot_frames, plot_trajectories)
from polycode_utils.instruments.spectra import FIT_METHODS
from polycode_utils.instruments.stimuli import moving_dot
from polycode_utils.networks.grid import describe_networks, dropout_grid, grid_losses, load_networks
from polycode_utils.reports.ch04_autoencoder import training_verdict
from polycode_utils.networks.training import load_training_data
from polycode_utils.runtime.workers import resolve_device

# %% tags=["remove-cell"]
set_style()
# Every choice is checked before anything is loaded (a bad value stops here, naming the parameter).
configs = dropout_grid(dropout_rates, n_seeds=n_seeds, seed=seed, dataset=dataset, width=width,
                       latent_dim=latent_dim, epochs=epochs, n_images=n_patches, batch_size=batch_size, lr=lr,
                       image_size=image_size, variational=variational, placement=placement, schedule=schedule)
layers_used = check_layers(layers)
show = (rate_label(dropout_rates[shown_network_index(show_dropout, dropout_rates)]), 0)  # seed 0 of that rate
check_choice(normalise, "normalise", NORMALISATIONS)
check_choice(fit_method, "fit_method", FIT_METHODS)
resolve_device(device)
loop = moving_dot(loop_frames(n_frames, sweep_frames), size=image_size, radius=radius, dot_radius=dot_radius)
frames = loop[::len(loop) // n_frames]  # the main T: every (T_max/T)-th frame of the same loop
eval_data = evaluation_images(dataset, n_eval_images, seed=seed, size=image_size, root=data_dir())

# %% tags=["remove-input"]
provenance_box(profile=profile,
               data=f"a white dot (radius {dot_radius:g} px) moving once round a circle of radius {radius:g} px on a "
                    f"black {image_size}x{image_size} canvas, {n_frames} frames (ours: the sources give no sizes); "
                    f"for alpha, the held-out evaluation images of chapter 5: {eval_data.description.summary()}",
               model=f"the chapter-4 autoencoders ({describe_networks(configs[0])}), {n_seeds} per dropout rate, "
                     "each beside its untrained control; "
                     f"BatchNorm statistics {batchnorm.replace('_', ' ')}",
               embedded_default=dataset == "patches",
               parameters=declared_parameters("06_projections", globals()))

# %% [markdown]
# ```{admonition} Can this run test the paper's claims?
# :class: important
# From chapter 4's losses of these very networks (ours): {glue:text}`run_text`.
# ```
#
# An eigenspectrum (chapter 5) says how a layer spreads its variance over dimensions, not how its activity moves
# when the input moves a little. The paper {cite}`marshall2024polysemanticity` asks the second question directly.
# Feed the network a stimulus with one degree of freedom, a dot going once round a circle, and follow the layer's
# activity $a_t \in \mathbb{R}^m$ frame by frame. A smooth code traces a smooth closed curve; a code that
# scrambles nearby inputs (a "hash") jumps about. The curve lives in $m$ dimensions, so the paper looks at it
# through **random projections** $z_t = R^\top a_t$, $R \in \mathbb{R}^{m \times k}$ with entries
# $\mathcal N(0, 1/m)$ and $k = 3$, and measures the roughness of each projected trajectory by its **action**
# $A = \tfrac12 \sum_t \lVert z_{t+1} - z_t \rVert^2$ (both from the paper and its note).
#
# Two facts make the action easy to read. First, it needs no sampling to be predicted: for any trajectory,
# $\mathbb{E}_R\, \lVert R^\top v \rVert^2 = \tfrac{k}{m} \lVert v \rVert^2$, so the mean action over random
# projections is exactly $\tfrac{k}{m} \cdot \tfrac12 \sum_t \lVert a_{t+1} - a_t \rVert^2$; the random
# projections show its spread and what single trajectories look like. Second, Stringer et al.
# {cite}`stringer2019high` proved that a code for a $d$-dimensional stimulus can only be smooth if its eigenspectrum
# decays faster than $n^{-(1 + 2/d)}$: $\alpha < -3$ for our dot ($d = 1$), $\alpha < -1$ for the high-dimensional
# natural images of chapter 5.
#
# Two choices are ours. The loop is closed: the step from the last frame back to the first counts too, since the
# dot's path is a circle. And with `normalise = "variance"` (the default) each layer's activity is rescaled so that
# its units vary by 1 on average over the frames, so that the action compares layers of any width and scale: then a
# curve that goes once round a circle in a plane has action $2kT\sin^2(\pi/T)$ = {glue:text}`a_circle:.3f`, and
# frames drawn independently at random have action $kT$ = {glue:text}`a_iid:.0f` on average. With `"none"`, the
# raw activations enter, as in the paper's definition.

# %% tags=["remove-cell"]
glue_values(dict(a_circle=circle_action(k, n_frames), a_iid=iid_action(k, n_frames), n_frames=int(n_frames),
                 n_projections=int(n_projections), k=int(k)))

# %% [markdown]
# ## The stimulus (Fig. 4a)

# %% tags=["hide-input"]
glue_values(dict(fig4a=plot_dot_frames(frames, n_show=10), n_show_frames=int(min(10, n_frames))))

# %% [markdown]
# ```{glue:figure} fig4a
# :name: fig-5-stimulus
#
# **The paper's Fig. 4a, regenerated: the moving dot**, {glue:text}`n_show_frames` of its {glue:text}`n_frames` frames;
# frame $t$ shows the dot at angle $2\pi t/T$. The stimulus is the paper's; canvas, radius, dot size and $T$ are
# ours (parameters). The dot's edge is anti-aliased, so the image changes continuously between frames.
# ```
#
# ## Trajectories
#
# Every network of chapter 4 ({glue:text}`n_seeds` seeds per dropout rate) and the untrained control of each seed
# (the weights its training started from, BatchNorm treated the same way; in eval mode the controls of one seed are
# one network for every rate) sees the dot in eval mode (dropout off, $z = \mu$). One forward pass of one loop at
# $T_{\max}$ = {glue:text}`t_max` frames serves every $T$ of this chapter: the loop at $T$ frames is every
# $(T_{\max}/T)$-th frame. At $T$ = {glue:text}`n_frames` we project each depth on {glue:text}`n_projections`
# random {glue:text}`k`-dimensional projections (the same draws at every depth of the same width); for the other
# $T$ we need only the exact mean over projections. The input pixels are depth 0, measured like any layer. For the
# comparison with chapter 5, the same call as chapter 5 re-measures $\alpha$ on its held-out images (without the
# interval: one evaluation set, the input measured once), and we measure $\alpha$ of the dot's own responses.

# %%
networks = load_networks(configs, **network_store(), max_train_s=max_train_s, max_epochs=max_epochs, device=device,
                         batchnorm=batchnorm, controls=True)
measured = measured_networks(networks)  # [((label, seed), model)]: the trained networks, then the controls
keys = [key for key, _ in measured]
dots, natural = [], []
for _, model in tqdm(measured, desc="networks"):
    dots.append(measure_dot(model, loop, layers_used, n_frames=n_frames, sweep_frames=sweep_frames,
                            n_projections=n_projections, k=k, seed=seed, normalise=normalise, fit_range=fit_range,
                            method=fit_method))
    natural.append(layer_spectra(model, eval_data.images, layers_used, fit_range=fit_range, method=fit_method,
                                 shared={n: s for n, s in natural[0].items() if n == INPUT_DEPTH} if natural else None))
actions, scaling = [d.actions for d in dots], [d.scaling for d in dots]
glue_values(dict(t_max=len(loop), n_seeds=int(n_seeds), n_networks=len(keys)))

# %% tags=["hide-input"]
glue_values(dict(fig4b=plot_trajectories(actions[keys.index(show)]), show_dropout=float(show_dropout)))

# %% [markdown]
# ```{glue:figure} fig4b
# :name: fig-5-trajectories
#
# **The paper's Fig. 4b, regenerated: one random 3-D projection of each layer's trajectory** in the network trained at
# $p =$ {glue:text}`show_dropout:g` (seed 0), coloured by time round the loop (the colour map is cyclic: the first
# and last frames share a colour). Inset: the layer's mean activation over units and frames (as in the paper) and
# the action of this projection. The projection and the layout are the paper's; the network and the stimulus sizes
# are ours. Axes are not comparable between panels.
# ```
#
# ## Action against depth (Fig. 4c)

# %% tags=["remove-cell"]
mean_action = seed_table(actions, keys, lambda r: r.mean)
action_stats = over_seeds(mean_action)
glue_values(dict(action_table=format_mean_sd(action_stats, 3), action_trend=trend_table(mean_action),
                 action_ratio=control_ratio_table(mean_action)))
for part in (monte_carlo_gap(actions), action_order(action_stats.mean, show[0]),
             noise_like_layers(action_stats.mean, k=k, n_frames=n_frames, normalise=normalise)):
    glue_values(vars(part))

# %% tags=["hide-input"]
glue_values(dict(fig4c=plot_action_by_depth(action_stats, k=k, n_frames=n_frames,
                                            normalised=normalise == "variance")))

# %% [markdown]
# ```{glue:figure} fig4c
# :name: fig-5-action-depth
#
# **The paper's Fig. 4c, regenerated: mean action of {glue:text}`n_projections` random projections against depth**,
# one line
# per dropout rate, error bars ±1 standard deviation over the seeds (the networks; the spread over projections is
# far smaller once averaged); grey squares: the untrained controls; dash-dot: the input pixels (depth 0). Grey
# lines (with `normalise = "variance"`): the action of frames drawn independently (dotted) and of a plane circle
# (dashed). Log scale. The quantity and the layout are the paper's; the seeds, the controls, the normalisation and
# the reference lines are ours.
# ```
#
# Against the theory: the mean over the random projections is within {glue:text}`mc_max_rel_pct:.1f` % of the
# exact value for every layer of every network (at most {glue:text}`mc_max_sem:.1f` standard errors away). Over
# the mean of the seeds, the mean action {glue:text}`action_direction` (Spearman correlation with depth between
# {glue:text}`rho_depth_min:.2f` and {glue:text}`rho_depth_max:.2f`, from the input to mu). Split,
# the trend differs between the convolutional stages and the dense layers (Spearman with depth, mean ± SD over
# seeds):
#
# ```{glue:} action_trend
# ```
#
# The untrained control is the reference: relative to it, training multiplied the mean action of each group of
# layers by (geometric mean over the group's layers, mean ± SD over seeds):
#
# ```{glue:} action_ratio
# ```
#
# A layer whose action exceeds {glue:text}`half_iid:.0f`, half that of independently drawn frames, follows the dot
# about as smoothly as noise would; on the means over seeds there are {glue:text}`n_noise_like` such layer-network
# pairs: {glue:text}`noise_text`.
#
# ```{glue:} action_table
# ```
#
# **Mean action by depth (rows) and network (columns), mean ± SD over seeds** (ours).
#
# ## A scaling law, not one number

# %% tags=["remove-cell"]
glue_values(vars(scaling_law(scaling, keys)))
glue_values(dict(exponent_table=exponent_table(scaling, keys), sweep_text=", ".join(map(str, sorted(sweep_frames))),
                 fig_scaling=plot_action_scaling(scaling, keys, show)))

# %% [markdown]
# One number cannot say whether a trajectory is smooth: sampled at more frames, a differentiable closed curve has
# smaller steps, and its action falls as $1/T$ (the plane circle's $2kT\sin^2(\pi/T) \approx 2\pi^2k/T$); a rough,
# Brownian-like path keeps the same action ($T^0$: its squared steps add up to its quadratic variation); and a hash,
# whose frames are independent, has an action growing as $T$. So we sample the same loop at $T$ =
# {glue:text}`sweep_text` frames, take the exact mean action over projections at each, and fit the exponent of
# action against $T$ by least squares on a log-log scale (95 % $t$-interval over the {glue:text}`t_max`-frame
# loop's $T$ values). We call a layer **smooth** below {glue:text}`smooth_below:.1f`, **hash** above
# {glue:text}`hash_above:.1f` and **rough** between: the midpoints between the three ideal exponents −1, 0 and +1
# (our thresholds). With `normalise = "variance"` each $T$ is divided by its own variance over its frames; that
# variance converges as $T$ grows (one loop sampled more finely), so it bends the law only where the coarse samples
# miss part of the loop's variance: the exponent of the raw action differs from the normalised one by
# {glue:text}`norm_shift_median:.3f` in the median layer and by at most {glue:text}`norm_shift_max:.2f` over every
# layer and network. The curves also bend (left panel below): at the smallest $T$ many layers' steps are not yet
# small against the loop's features, so the exponent is a least-squares average over the sweep, not an asymptote.
#
# ```{glue:figure} fig_scaling
# :name: fig-6-scaling
#
# **The action's scaling law (ours).** Left: exact mean action against $T$ for each layer of the network at
# $p =$ {glue:text}`show_dropout:g` (seed 0), the input in black, exponents in the legend; grey: slopes −1, 0, +1.
# Right: the exponent by depth, mean ± SD over seeds, the untrained controls grey; bands: smooth, rough, hash.
# ```
#
# The input pixels themselves have exponent {glue:text}`input_exponent:.2f`
# [{glue:text}`input_ci_low:.2f`, {glue:text}`input_ci_high:.2f`], {glue:text}`input_regime`: the anti-aliased dot
# moves continuously, but at the smaller $T$ its steps are not yet small against its own size. Over the trained
# networks' layers the exponent lies between {glue:text}`exponent_min:.2f` and {glue:text}`exponent_max:.2f`
# (classes: {glue:text}`trained_classes`; untrained controls: {glue:text}`control_classes`). Training changed the
# exponent, against the untrained control of the same seed, by {glue:text}`conv_change` in the conv stages and by
# {glue:text}`dense_change` in the dense layers (mean over the group's layers, mean ± SD over the trained networks).
#
# ```{glue:} exponent_table
# ```
#
# **Exponent of the mean action against $T$, by depth and network**: mean ± SD over seeds, and the class of the
# mean (ours).

# %% tags=["remove-cell"]
r2_table = format_mean_sd(over_seeds(seed_table(actions, keys, lambda r: r.r2_mean)))
glue_values(dict(r2_table=r2_table, **vars(tracking_r2(actions, keys))))

# %% [markdown]
# The authors' second metric asks how well a projection tracks the stimulus. Ours: the $R^2$ of each projected
# trajectory regressed on $(1, \cos\theta_t, \sin\theta_t)$, its $k$ coordinates pooled, averaged over the
# projections. A plane circle gives 1; independent frames give about $2/(T-1)$ =
# {glue:text}`r2_noise:.3f`. The input gives {glue:text}`r2_input:.2f`: the pixels of a moving dot are far from a
# linear image of its position. The trained layers lie between {glue:text}`r2_trained_min:.2f` and
# {glue:text}`r2_trained_max:.2f`, the untrained controls between {glue:text}`r2_control_min:.2f` and
# {glue:text}`r2_control_max:.2f`.
#
# ```{glue:} r2_table
# ```
#
# **$R^2$ of the projected trajectory on the dot's (cos, sin), mean over projections, mean ± SD over seeds** (ours).
#
# ## Action against the exponent (Fig. 4d)

# %% tags=["remove-cell"]
alpha_nat = seed_table(natural, keys, lambda s: s.alpha)
alpha_dot = seed_table(actions, keys, lambda r: r.dot_alpha)
for part in (action_alpha(mean_action, alpha_nat, alpha_dot), stringer_check(mean_action, alpha_dot, d=1),
             alpha_relation(mean_action, alpha_nat), action_theory(actions, keys)):
    glue_values(vars(part))
glue_values(dict(dot_fit_last=last_dot_pc(actions),
                 fig4d=plot_action_against_alpha(mean_action, alpha_nat, alpha_dot, d=1),
                 fig4d_theory=plot_action_theory(actions, keys, alpha_nat)))

# %% tags=["remove-cell"]
run = training_verdict(grid_losses(networks, load_training_data(configs[0], root=data_dir())))
glue_values(action_claims(mean_action, alpha_nat, testable=run.can_test, why_not=run.reason))
glue_values(dict(run_text=run.verdict_text))

# %% [markdown]
# ```{glue:figure} fig4d
# :name: fig-5-action-alpha
#
# **The paper's Fig. 4d, regenerated, and a companion (ours).** Mean action of each layer of each network (colour:
# dropout
# rate; grey squares: untrained controls; black star: the input) against (d) the exponent $\alpha$ of the layer on
# natural images, measured as in chapter 5, with the line $\alpha = -1$, Stringer's bound for a high-dimensional
# stimulus; (e) the exponent of the layer's responses to the dot itself (PCs 1 to at most
# {glue:text}`dot_fit_last` of the {glue:text}`n_frames` frames), with the bound $\alpha = -3$ that applies to a
# one-dimensional stimulus. Panel d is the paper's comparison; panel e, the controls and all values are ours.
# ```
#
# Pooling every layer of every network hides the relation: the Spearman correlation of the mean action with
# $\alpha$ on natural images is {glue:text}`rho_pooled_trained:.2f` over the trained networks' layers,
# {glue:text}`rho_pooled_control:.2f` over the controls' and {glue:text}`rho_pooled_all:.2f` over all
# {glue:text}`n_points` points. Inside each network (over its depths; mean ± SD over seeds) it is
# {glue:text}`rho_within_text`. On natural images the exponents lie between {glue:text}`nat_alpha_min:.2f` and
# {glue:text}`nat_alpha_max:.2f`. Panel e: the dot's own exponents lie between {glue:text}`dot_alpha_min:.2f` and
# {glue:text}`dot_alpha_max:.2f`, {glue:text}`n_dot_below` of {glue:text}`n_dot` below $-3$;
# {glue:text}`bound_text`. The bound is a necessary condition, not a sufficient one, and our fits over at most
# {glue:text}`dot_fit_last` PCs of {glue:text}`n_frames` frames are rough.
#
# ```{glue:figure} fig4d_theory
# :name: fig-6-action-theory
#
# **The paper's Fig. 4d with theory (ours), raw activations.** Left: the measured mean action (filled) and its
# expectation if
# the frames were drawn independently with the responses' covariance, $\frac{k}{m}T\operatorname{tr}\Sigma$ (open:
# twice $T$ times the $\frac{k}{2m}\operatorname{tr}\Sigma$ of the note's corrected §2.5). Middle: their ratio,
# $1 - \rho_1$ with $\rho_1$ the lag-1 autocorrelation of the loop. Right: the note's approximation
# $\operatorname{tr}\Sigma \approx \lambda_1\zeta(-\alpha)$ over the true trace, where the dot responses' $\alpha < -1$.
# ```
#
# Normalising each layer to unit variance divides out $\operatorname{tr}\Sigma$, the quantity the note's theory ties
# to $\alpha$, so here the activations are raw. The note's §2.5 writes the mean action of a step as
# $\tfrac12\operatorname{tr}\Sigma \approx \tfrac12\zeta(-\alpha)$; the expectation over projections with $N(0, 1/m)$
# entries is $\frac{k}{2m}\operatorname{tr}\Sigma$ (chapter 2 checks it by Monte Carlo), so the printed form is too
# large by $m/k$, here between {glue:text}`printed_factor_min:.0f` and {glue:text}`printed_factor_max:.0f`; and
# $\zeta(-\alpha)$ stands for $\operatorname{tr}\Sigma$ only if $\lambda_1 = 1$ and $\alpha < -1$. Measured against
# independent frames, the trained layers' actions are {glue:text}`ratio_trained_min:.2f` to
# {glue:text}`ratio_trained_max:.2f` of the i.i.d. value (median {glue:text}`ratio_trained_median:.2f`; untrained
# controls {glue:text}`ratio_control_median:.2f`; the input {glue:text}`ratio_input:.2f`): the action is set by
# $\operatorname{tr}\Sigma$ times how far the loop is from independent frames, and only the first factor involves the
# spectrum. Where $\alpha < -1$ ({glue:text}`n_note` of {glue:text}`n_pairs` layer-network pairs),
# $\lambda_1\zeta(-\alpha)$ is {glue:text}`note_ratio_min:.2f` to {glue:text}`note_ratio_max:.2f` times the true
# trace.
#
# ```{admonition} The paper's and ours in this chapter
# :class: note
# **The paper's:** the moving-dot stimulus, random projections with entries $\mathcal N(0, 1/m)$, 1000
# projections per layer, the action $\frac12\sum_t\lVert z_{t+1}-z_t\rVert^2$, and the comparisons of Fig. 4
# (trajectories, action by depth, action against $\alpha$); the idea of a second metric, how well a projection tracks
# the input.
# **Ours:** the stimulus sizes, the closed loop, the normalisation, the seeds and untrained controls, the input as
# depth 0, the scaling law over $T$ and its classes, the $R^2$ form of the second metric, the exact mean action, the
# i.i.d. expectation and the correction of the note's §2.5, the dot responses' exponent and Stringer's bound
# (panel e), and every number on this page.
# ```

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a few lines with the library. Its solution, behind the toggle, runs in every build of the
# book, followed by the checks an autograder applies; `polycode assignment` turns this chapter into a student
# notebook (see the instructor's page).
#
# ```{exercise} The action of a circle
# :label: ex-dot-circle
# A unit circle traced once in $T$ frames, $z_t = (\cos 2\pi t/T, \sin 2\pi t/T)$, has steps of length
# $2\sin(\pi/T)$. Derive its action (closed loop) in closed form, evaluate it at $T = 100$ into `a_circle_100`,
# and check it against `action` from `polycode_utils.instruments.projections`.
# ```
#
# ```{solution-start} ex-dot-circle
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
a_circle_100 = 2 * 100 * float(np.sin(np.pi / 100)) ** 2
### END SOLUTION
print(f"action of the unit circle at T = 100: {a_circle_100:.5f}")

# %% tags=["check"]
from polycode_utils.instruments.projections import action  # noqa: E402

theta = 2 * np.pi * np.arange(100) / 100
assert abs(a_circle_100 - float(action(np.stack([np.cos(theta), np.sin(theta)], 1)[None], closed=True)[0])) < 1e-9
### BEGIN HIDDEN TESTS
assert abs(a_circle_100 - 2 * np.pi ** 2 / 100) < 1e-3
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} The exponent of a smooth loop
# :label: ex-dot-exponent
# A differentiable closed curve has an action that falls as $1/T$. Fit the log-log slope of the circle's
# action $2T\sin^2(\pi/T)$ against $T$ over this run's `sweep_frames` into `circle_exponent`, and compare it
# with the input frames' exponent on this page: why is the input's flatter than $-1$?
# ```
#
# ```{solution-start} ex-dot-exponent
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
ts = np.array(sorted(sweep_frames), dtype=float)
circle_exponent = float(np.polyfit(np.log(ts), np.log(2 * ts * np.sin(np.pi / ts) ** 2), 1)[0])
### END SOLUTION
print(f"circle: action ~ T^{circle_exponent:.3f}")

# %% tags=["check"]
assert abs(circle_exponent + 1) < 0.1 or min(sweep_frames) < 10  # T^-1 once T is large (slope -0.93 at 10)
### BEGIN HIDDEN TESTS
ts_ = np.array(sorted(sweep_frames), dtype=float)
assert abs(circle_exponent - float(np.polyfit(np.log(ts_), np.log(2 * ts_ * np.sin(np.pi / ts_) ** 2), 1)[0])) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# The dot's edge is only a few pixels wide: at small $T$ the dot jumps by more than its own size between frames,
# and neighbouring frames barely overlap, so the steps are not yet in the smooth regime where the action falls as
# $1/T$; the fit over the sweep averages the two regimes.
#
# ```{solution-end}
# ```
#
# ```{exercise} What a random projection keeps
# :label: ex-dot-projection
# For a vector $v \in \mathbb{R}^m$ and a projection $R$ with $k$ columns of $\mathcal N(0, 1/m)$ entries,
# $\mathbb{E}\,\lVert R^\top v\rVert^2 = \tfrac{k}{m}\lVert v\rVert^2$. Check it by Monte Carlo: project one random
# $v$ with $m = 200$ on 4000 projections with `random_projections` ($k = 3$) and put the ratio of the mean of
# $\lVert R^\top v\rVert^2$ to $\tfrac{k}{m}\lVert v\rVert^2$ into `projection_ratio`.
# ```
#
# ```{solution-start} ex-dot-projection
# :class: dropdown
# ```

# %%
### BEGIN SOLUTION
from polycode_utils.instruments.projections import random_projections  # noqa: E402

v = np.random.default_rng(seed).standard_normal((1, 200))
z = np.asarray(random_projections(v.astype(np.float32), 4000, 3, seed))  # (projections, 1, k)
projection_ratio = float((z ** 2).sum(axis=-1).mean() / (3 / 200 * (v ** 2).sum()))
### END SOLUTION
print(f"mean ||R^T v||^2 / ((k/m) ||v||^2) = {projection_ratio:.4f}")

# %% tags=["check"]
assert abs(projection_ratio - 1) < 0.05
### BEGIN HIDDEN TESTS
assert projection_ratio != 1.0  # a Monte-Carlo estimate, not the formula typed in
### END HIDDEN TESTS

# %% [markdown]
# ```{solution-end}
# ```
