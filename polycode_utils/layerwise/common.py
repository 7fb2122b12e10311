"""What the depth measurements of chapters 5 and 6 share: tables of one quantity by layer and network, and their
summaries over seeds (the error bar of every comparison between dropout rates) and against the untrained control.

A network is named by a key (label, seed): label is its dropout rate ('p = 0.2', rate_label) or a control
('untrained', CONTROL); seed is its replicate, so that a trained network and its untrained control (the weights its
training started from) share a seed and can be compared pair by pair [ours].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from polycode_utils.theory.claims import Effect
from polycode_utils.networks.grid import rate_label
from polycode_utils.instruments.spectra import t_interval

CONTROL = "untrained"  # the label of the control networks: the trained ones' initial weights [ours]

Key = tuple[str, int]


def seed_table(results: Sequence[Mapping[str, object]], keys: Sequence[Key], value: Callable[[object], object]
               ) -> pd.DataFrame:
    """One quantity of every layer (rows) of every network, columns (label, seed) in the order given [ours]."""
    keys = [(str(label), int(seed)) for label, seed in keys]
    if len(results) != len(keys) or not results:
        raise ValueError(f"results, keys: need one (label, seed) per network, got {len(results)} and {len(keys)}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys: each (label, seed) must name one network, got {keys}")
    table = pd.DataFrame({key: {name: value(r) for name, r in per_layer.items()}
                          for key, per_layer in zip(keys, results)})
    table.columns = pd.MultiIndex.from_tuples(keys, names=["network", "seed"])
    table.index.name = "depth"
    return table


@dataclass(frozen=True)
class OverSeeds:
    """A seed table summarised per label: mean, standard deviation (ddof 1; nan with one seed) and count."""

    mean: pd.DataFrame          # layers x labels
    sd: pd.DataFrame
    n: pd.Series                # seeds per label


def over_seeds(table: pd.DataFrame) -> OverSeeds:
    """Mean and spread over the seeds of each label of a seed_table (the error bar between dropout rates)."""
    groups = table.T.groupby(level="network", sort=False)
    return OverSeeds(groups.mean().T, groups.std(ddof=1).T, groups.size())


def control_effect(per_network: pd.Series, what: str, control: str = CONTROL) -> Effect:
    """A claim's statistic, one value per network (index (label, seed)), in the trained networks minus the
    control: per seed, the mean over that seed's trained networks minus its untrained twin's value; the mean of
    these differences and its Student-t 95 % interval over seeds (claims.controlled_verdict's effect) [ours]."""
    labels = per_network.index.get_level_values("network")
    if control not in set(labels) or (labels == control).all():
        raise ValueError(f"per_network: needs trained networks and the control {control!r}, got {sorted(set(labels))}")
    base = per_network[labels == control].droplevel("network")
    trained = per_network[labels != control].groupby(level="seed").mean()
    diffs = (trained - base.reindex(trained.index)).dropna()
    low, high = t_interval(diffs.to_numpy())
    return Effect(float(diffs.mean()), low, high, len(diffs), what)


def paired_difference(table: pd.DataFrame, control: str = CONTROL) -> pd.DataFrame:
    """Each trained network minus its own control (the same seed): what training changed, per layer [ours]."""
    labels = list(dict.fromkeys(table.columns.get_level_values("network")))
    if control not in labels:
        raise ValueError(f"control: {control!r} is not a network label of the table ({labels})")
    base = table[control]
    out = {}
    for label, seed in table.columns:
        if label == control:
            continue
        if seed not in base.columns:
            raise ValueError(f"table: network ({label!r}, {seed}) has no control of the same seed")
        out[(label, seed)] = table[(label, seed)] - base[seed]
    diff = pd.DataFrame(out)
    diff.columns = pd.MultiIndex.from_tuples(list(out), names=["network", "seed"])
    return diff


def mean_sd(mean: float, sd: float, digits: int = 2, sign: bool = False) -> str:
    """'mean ± sd' over seeds ('mean' alone where sd is not finite: one seed), the one such text of the library;
    sign: the mean with its sign (a difference)."""
    text = f"{mean:{'+' if sign else ''}.{digits}f}"
    return text + (f" ± {sd:.{digits}f}" if np.isfinite(sd) else "")


def format_mean_sd(stats: OverSeeds, digits: int = 2) -> pd.DataFrame:
    """mean_sd of every cell of an OverSeeds summary: the chapters' tables."""
    out = pd.DataFrame({c: [mean_sd(m, s, digits) for m, s in zip(stats.mean[c], stats.sd[c])]
                        for c in stats.mean.columns}, index=stats.mean.index)
    out.index.name = stats.mean.index.name
    return out


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return float(spearmanr(x, y).statistic)


def _direction(rho: Sequence[float], up: str, down: str) -> str:
    """'... in every network' when every correlation has one sign (NaN: no sign), else 'not ordered ...'."""
    r = np.asarray(rho, dtype=float)
    if np.all(r < 0):
        return f"{down} with depth in every network"
    if np.all(r > 0):
        return f"{up} with depth in every network"
    return "not ordered the same way by depth in every network"


def _check_same_shape(table: pd.DataFrame, **others: pd.DataFrame) -> None:
    for name, other in others.items():
        if other.shape != table.shape or list(other.index) != list(table.index):
            raise ValueError(f"{name}: expected the layers and networks of the action table {table.shape}, "
                             f"got {other.shape}")


def measured_networks(networks: Sequence[object], control: str = CONTROL) -> list[tuple[Key, object]]:
    """(key, model) of every trained network, then one untrained control per seed (the first rate's: in eval mode
    the controls of one seed are the same network for every rate), from load_networks(..., controls=True) [ours]."""
    out: list[tuple[Key, object]] = [((rate_label(n.dropout), int(n.replicate)), n.model) for n in networks]
    seen: set[int] = set()
    for n in networks:
        if n.replicate in seen:
            continue
        if n.control is None:
            raise ValueError("networks: load them with controls=True to measure the untrained controls")
        seen.add(n.replicate)
        out.append(((control, int(n.replicate)), n.control))
    return out


def depth_correlations(table: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Spearman(depth, value) of every network (column) within each group of layers (e.g. conv stages, dense
    layers): rows the networks, columns the groups; nan where a group has fewer than 3 of the table's layers."""
    out = {}
    for name, layers in groups.items():
        rows = [layer for layer in table.index if layer in set(layers)]
        out[name] = [(_spearman(np.arange(len(rows)), table.loc[rows, c]) if len(rows) > 2 else np.nan)
                     for c in table.columns]
    return pd.DataFrame(out, index=table.columns)
