"""Chapter 4's words and numbers: the paper's training recipe beside this run's, the frontier study read in a few
numbers, the losses' summary, and the verdict whether this run's networks can test the paper's claims about trained
codes (which chapters 5 and 6 state too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from polycode_utils.checks import check_float_in
from polycode_utils.networks.grid import MAX_GAIN, is_rate_label, rate_label
from polycode_utils.networks.training import AutoencoderConfig

PAPER_RECIPE = {  # the authors' code [paper]
    "data": "CIFAR-10, upsampled to 224×224", "loss": "BCE + KL (a variational autoencoder)",
    "dropout placement": "after every ReLU of the ResNet",
    "base width w (channels of the first stage)": "64 (ResNet-18)",
    "fully connected width / latent dimensions": "1024 / 256", "epochs × images": "200 × 50,000",
    "images seen per network": "10,000,000", "batch size / learning rate": "50 / 0.001 (Adam), constant",
    "dropout rates": "0, 0.2, 0.4, 0.6, 0.8"}


def recipe_table(config: AutoencoderConfig, dropout_rates: Sequence[float], profile: str) -> pd.DataFrame:
    """The paper's training recipe beside this run's, row by row (chapter 4)."""
    s = config.image_size
    ours = {"data": "CIFAR-10 at 32×32" if config.dataset == "cifar10" else f"shipped photographs, {s}×{s} patches",
            "loss": "BCE + KL (a variational autoencoder)" if config.variational else "BCE (a plain autoencoder)",
            "dropout placement": "after every ReLU of the ResNet" if config.placement == "every_relu" else
            "after the ReLU inside each residual branch only",
            "base width w (channels of the first stage)": f"{config.width}",
            "fully connected width / latent dimensions": f"{config.build_model().fc_hidden} / {config.latent_dim}",
            "epochs × images": f"{config.epochs} × {config.n_images:,}",
            "images seen per network": f"{config.epochs * config.n_images:,}",
            "batch size / learning rate": f"{config.batch_size} / {config.lr:g} (Adam), " + (
                "constant" if config.schedule == "constant" else "cosine decay to 0"),
            "dropout rates": ", ".join(f"{p:g}" for p in dropout_rates)}
    table = pd.DataFrame({"paper (authors' code)": PAPER_RECIPE, f"this run (profile {profile})": ours})
    table.index.name = "setting"
    return table


@dataclass(frozen=True)
class FrontierSummary:
    """What chapter 4 states about the frontier study (studies/frontier.csv): which placements learn at all."""

    n_frontier: int             # runs and configurations in the table
    n_frontier_configs: int
    authors_best: float         # the authors' placement at p >= 0.4: its best share, its largest last-quarter gain
    authors_gain: float
    branch_worst: float         # dropout in the branches, BCE alone: the worst share, the longest run's steps
    branch_steps: int
    branch_kl: float            # ... with the KL term: the best share


def frontier_summary(table: pd.DataFrame) -> FrontierSummary:
    """The frontier table in the few numbers chapter 4's reading of it needs."""
    authors = table[(table["placement"] == "every_relu") & (table["dropout"] >= 0.4)]
    branch = table[table["placement"] == "branch"]
    plain, kl = branch[branch["loss"] == "BCE"], branch[branch["loss"] != "BCE"]
    return FrontierSummary(len(table), int(table["config"].nunique()), float(authors["vs_mean_colour"].min()),
                           float(authors["last_quarter_improvement"].max()), float(plain["vs_mean_colour"].max()),
                           int(plain["steps"].max()), float(kl["vs_mean_colour"].min()))


@dataclass(frozen=True)
class LossSummary:
    """What chapter 4 states about its losses (means over seeds per dropout rate); fields are its glue names."""

    eval_loss_first: float      # eval loss (BatchNorm re-estimated) at the lowest and the highest dropout rate
    eval_loss_last: float
    excess_first: float         # BCE above the floor, lowest and highest rate (mean over seeds), and their ratio
    excess_last: float
    excess_sd_first: float      # ... its spread (SD) over seeds
    excess_sd_last: float
    excess_ratio: float
    kl_first: float
    kl_last: float
    n_increasing: int           # steps of the dropout grid at which the mean eval loss grows
    n_steps_between: int
    trend_text: str
    shift_p: float              # the rate where BatchNorm as trained differs most from re-estimated (variance shift)
    shift_as_trained: float
    shift_recalibrated: float
    shift_train: float


def loss_summary(table: pd.DataFrame, rates: Sequence[float]) -> LossSummary:
    """The eval loss against the dropout rate (means over seeds), and BatchNorm's variance shift under dropout."""
    labels = [rate_label(p) for p in rates]
    trained = table.loc[labels]
    mean = trained.groupby(level="network", sort=False).mean().loc[labels]
    sd = trained.groupby(level="network", sort=False)["BCE above floor"].std(ddof=1).loc[labels]
    ev, as_trained = mean["eval loss, BN re-estimated"].to_numpy(), mean["eval loss, BN as trained"].to_numpy()
    worst = int(np.argmax(np.abs(as_trained - ev)))
    return LossSummary(
        eval_loss_first=float(ev[0]), eval_loss_last=float(ev[-1]),
        excess_first=float(mean["BCE above floor"].iloc[0]), excess_last=float(mean["BCE above floor"].iloc[-1]),
        excess_sd_first=float(sd.iloc[0]), excess_sd_last=float(sd.iloc[-1]),
        excess_ratio=float(mean["BCE above floor"].iloc[-1] / mean["BCE above floor"].iloc[0]),
        kl_first=float(mean["KL"].iloc[0]), kl_last=float(mean["KL"].iloc[-1]),
        n_increasing=int(np.sum(np.diff(ev) > 0)), n_steps_between=len(ev) - 1,
        trend_text="the more units dropout erased during training, the worse the network reconstructs when it may "
        "use them all" if np.all(np.diff(ev) > 0) else "in this run the loss is not ordered by the dropout rate",
        shift_p=float(rates[worst]), shift_as_trained=float(as_trained[worst]), shift_recalibrated=float(ev[worst]),
        shift_train=float(mean["train loss (dropout on)"].iloc[worst]))


MAX_FACTOR = 2.0   # a network has learnt its images when its error above the floor is at most this x PCA-k's [ours]


@dataclass(frozen=True)
class TrainingVerdict:
    """Whether this run's networks can test the paper's claims about trained codes, from their own losses [ours]."""

    n_networks: int
    n_learnt: int               # networks whose share is at most max_factor x PCA-k's and below the mean colour's
    n_converged: int            # networks whose held-out error fell by less than max_gain over the last quarter
    max_factor: float
    max_gain: float
    pca_share: float            # PCA-k's BCE above floor as a share of the mean-colour reconstruction's
    share_best: float           # the trained networks' share: best, worst
    share_worst: float
    gain_worst: float           # the largest last-quarter gain
    share_control: float        # ... and the untrained networks' (mean over seeds)
    n_seeds: int
    can_test: bool
    verdict_text: str
    reason: str                 # the same in a few words, for a table (empty when the run can test the claims)


def training_verdict(table: pd.DataFrame, max_factor: float = MAX_FACTOR, max_gain: float = MAX_GAIN,
                     min_seeds: int = 3) -> TrainingVerdict:
    """The run can test claims about trained codes when every network has learnt (its error above the floor at most
    max_factor x the best linear code's of its latent size, and below a mean-colour patch's), has converged (less than
    max_gain relative gain over the last quarter) and there are >= min_seeds seeds per rate (thresholds ours)."""
    max_factor = check_float_in(max_factor, "max_factor", 1.0, float("inf"))
    max_gain = check_float_in(max_gain, "max_gain", 0.0, 1.0)
    names = table.index.get_level_values("network")
    pca_rows = [n for n in dict.fromkeys(names) if n.startswith("PCA-")]
    trained_mask = [is_rate_label(n) for n in names]
    if not any(trained_mask) or not pca_rows:
        raise ValueError("table: needs trained networks (rows 'p = ...') and a PCA-k row; pass final_losses' table "
                         "with train_images")
    share, gain = table["vs mean colour"][trained_mask], table["gain, last quarter"][trained_mask]
    pca_share = float(table.loc[pca_rows[0], "vs mean colour"].iloc[0])
    bar = min(max_factor * pca_share, 1.0)
    n_seeds = int(share.groupby(level="network").size().min())
    learnt, converged = int(((share <= bar) & (share < 1.0)).sum()), int((gain < max_gain).sum())
    control = share_of(table, "untrained")
    n = len(share)
    can = learnt == n and converged == n and n_seeds >= min_seeds
    rule = (f"error above the floor at most {max_factor:g} x that of the best linear code of the latent's size "
            f"({pca_rows[0]}: {pca_share:.0%} of a mean-colour patch's, so at most {bar:.0%}), and less than "
            f"{max_gain:.0%} improvement over the last quarter of training")
    why = []
    if learnt < n:
        why.append(f"{'none' if learnt == 0 else f'only {learnt}'} of its {n} networks reconstruct within that "
                   f"bar (theirs: {share.min():.0%} to {share.max():.0%} of a mean-colour patch's error)")
    if converged < n:
        why.append(f"{n - converged} of its {n} networks were still improving (largest last-quarter gain "
                   f"{np.nanmax(gain.to_numpy()) if np.isfinite(gain).any() else float('nan'):.1%})")
    if n_seeds < min_seeds:
        why.append(f"it has {n_seeds} seed(s) per dropout rate, fewer than {min_seeds}")
    if can:
        text = (f"this run can test the paper's claims about trained codes: all {n} networks have learnt and "
                f"converged ({rule}; theirs: {share.min():.0%} to {share.max():.0%}), with {n_seeds} seeds per rate")
    else:
        text = (f"this run cannot test the paper's claims about trained codes (our bar: {rule}): " + "; and ".join(why)
                + ". Chapters 5 and 6 then show what the measurements do, not what trained networks do")
    reason = "" if can else "; ".join(
        ([f"{learnt} of {n} networks within {max_factor:g} x PCA's error (theirs: {share.min():.0%} to "
          f"{share.max():.0%} of a mean-colour patch's)"] if learnt < n else [])
        + ([f"{n - converged} of {n} still improving"] if converged < n else [])
        + ([f"{n_seeds} seed(s) per rate"] if n_seeds < min_seeds else [])) + " (chapter 4)"
    finite = gain[np.isfinite(gain)]
    return TrainingVerdict(n, learnt, converged, float(max_factor), float(max_gain), pca_share, float(share.min()),
                           float(share.max()), float(finite.max()) if len(finite) else float("nan"), control,
                           n_seeds, bool(can), text, "" if can else reason)


def share_of(table: pd.DataFrame, network: str) -> float:
    """The mean 'vs mean colour' share of one kind of row of final_losses' table (NaN when it has none)."""
    if network not in table.index.get_level_values("network"):
        return float("nan")
    return float(table.loc[network, "vs mean colour"].mean())
