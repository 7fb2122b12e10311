"""Chapter 7's language models: spectra, alpha by layer and random projections over text, streamed through forward
hooks on raw transformers modules (GPT-2 XL [paper]; the embedded SmolLM2 and MiniLM offline [ours]).

Modules: ``models`` (loading, offline), ``text`` (corpora and token windows), ``sites`` (where activations are
read), ``measure`` (one streamed, optionally distributed pass), ``explain`` (the offline explain-and-score),
``analysis`` (what the chapter reads off it), and the command-line tool ``python -m polycode_utils.networks.language``
(``torchrun --nproc-per-node N -m ...``).
"""

from polycode_utils.networks.language.analysis import (
    SiteSpectrum, TrendDifference, Unit, UnitStatistics, action_frame, alpha_table, chance_scores, context_table,
    depth_trend_difference, first_position_ratio, layer_scores, layers_at_depths, outlier_frame, outlier_tokens,
    proxy_frame, proxy_scores, score_frame, select_units, site_spectra, spectra_frame, token_concentration,
    unit_statistics, window_group_interval)
from polycode_utils.networks.language.explain import ExplainScores, TokenTables, explain_and_score
from polycode_utils.networks.language.measure import (
    CONTROLS, TextMeasurement, TopContexts, load_measurements, measure_runs, measure_text,
    record_sites, save_measurements)
from polycode_utils.networks.language.models import (
    EMBEDDED_DEFAULT, NAMED_MODELS, LanguageModel, load_language_model, untrained_copy)
from polycode_utils.networks.language.sites import SITE_KINDS, architecture, site_names, site_width
from polycode_utils.networks.language.text import (
    CORPORA, corpus_description, corpus_documents, shuffle_tokens, text_windows)

__all__ = [
    "CONTROLS", "CORPORA", "EMBEDDED_DEFAULT", "NAMED_MODELS", "SITE_KINDS", "ExplainScores", "LanguageModel",
    "SiteSpectrum", "TextMeasurement", "TokenTables", "TopContexts", "TrendDifference", "Unit", "UnitStatistics",
    "action_frame", "alpha_table", "architecture", "chance_scores", "context_table", "corpus_description",
    "corpus_documents", "depth_trend_difference", "explain_and_score", "first_position_ratio", "layer_scores",
    "layers_at_depths", "load_language_model", "load_measurements", "measure_runs", "measure_text", "outlier_frame",
    "outlier_tokens", "proxy_frame", "proxy_scores", "record_sites", "save_measurements", "score_frame", "select_units",
    "shuffle_tokens", "site_names", "site_spectra", "site_width", "spectra_frame", "text_windows",
    "token_concentration", "unit_statistics", "untrained_copy", "window_group_interval",
]
