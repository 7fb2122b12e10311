"""Chapter 3's verdicts on the note's Fig. 1 from the control study (studies/error_correction_control.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from polycode_utils.theory.claims import Claim, controlled_verdict
from polycode_utils.networks.error_correction import PassThroughConfig, control_effect
from polycode_utils.reports.results import claim_values

SOURCE = "The note's Fig. 1"
# (claim key, control network, what holds, what the control stands for, the claim as the sources make it)
CLAIMS = (
    ("note_fig1", "untrained", "the network trained with dropout keeps more information about its input at the "
     "read-out, masks on, than the untrained one", "the untrained network (its initial weights)",
     "A deep network trained with dropout learns to keep information about its input that the untrained network "
     "loses"),
    ("note_fig1_correction", "no dropout", "the network trained with dropout keeps more information at the read-out "
     "under the masks than its twin trained without dropout under the same masks (it learnt to correct erasures)",
     "the twin trained at p = 0 (the same initial weights, samples and order), measured under the masks",
     "... because it learnt to correct erasures: under the masks it keeps more than the same network trained "
     "without dropout"),
)


def settings_that_differ(study: pd.DataFrame, settings: Mapping[str, float]) -> list[str]:
    """The settings whose value in the study's table differs from the chapter's (or that the table lacks)."""
    return [name for name, value in settings.items()
            if name not in study or not np.allclose(study[name].to_numpy(dtype=float), float(value))]


def note_fig1_verdicts(study: pd.DataFrame, settings: Mapping[str, float], source: str) -> list[Claim]:
    """The note's Fig. 1 judged over the study's seeds: information kept against the untrained network, and error
    correction against the twin trained without dropout (controlled_verdict, a seed being a case)."""
    differ = settings_that_differ(study, settings)
    on = study[study.masks == "on"].pivot_table(index="seed", columns="network", values="nats")
    claims = []
    for key, control, holds, stands, _ in CLAIMS:
        effect = control_effect(study, "dropout", control, "on")
        claims.append(controlled_verdict(
            key, int((on["dropout"] > on[control]).sum()), len(on), effect, cases="seeds", holds=holds,
            measured=f"read-out, masks on, decoder bound: with dropout {on['dropout'].mean():.2f}, {control} "
                     f"{on[control].mean():.2f} nats (mean over {len(on)} seeds; {source})",
            control_holds=stands, testable=not differ,
            why_not=f"{source} was made with other {', '.join(differ)} than this run's"))
    return claims


def control_table(study: pd.DataFrame) -> pd.DataFrame:
    """The study's read-out information in nats: a row per (masks, network), a column per seed."""
    return study.pivot_table(index=["masks", "network"], columns="seed", values="nats").round(2)


def study_settings(config: PassThroughConfig, mi_samples: int, decoder_options: Mapping[str, Any]) -> dict[str, float]:
    """The chapter's settings that a control study must share (the study's table records them as columns)."""
    return dict(dropout=config.dropout, n_samples=config.n_samples, epochs=config.epochs,
                batch_size=config.batch_size, lr=config.lr, mi_samples=mi_samples,
                decoder_steps=decoder_options["steps"], decoder_components=decoder_options["components"],
                min_std=decoder_options["min_std"])


def note_fig1_report(study: pd.DataFrame, config: PassThroughConfig, mi_samples: int,
                     decoder_options: Mapping[str, Any], source: str) -> dict[str, Any]:
    """What chapter 3 glues from the control study: both verdicts, the table, the masks-off effect, provenance."""
    claims = note_fig1_verdicts(study, study_settings(config, mi_samples, decoder_options), source)
    says = [c[-1] for c in CLAIMS]
    return {**{k: v for claim, said in zip(claims, says) for k, v in claim_values(claim, SOURCE, said).items()},
            "control_table": control_table(study),
            "study_seeds": int(study.seed.nunique()), "study_commit": str(study.commit.iloc[0]),
            "study_minutes": float(study.seconds.iloc[0]) / 60,
            "masks_off_effect": control_effect(study, "dropout", "no dropout", "off").text()}
