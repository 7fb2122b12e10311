"""Chapter 7's language models: spectra, alpha by layer and random projections over text, streamed through forward
hooks on raw transformers modules (GPT-2 XL [paper]; the embedded SmolLM2 and MiniLM offline [ours]).

Modules: ``models`` (loading, offline), ``text`` (corpora and token windows), ``sites`` (where activations are
read), ``measure`` (one streamed, optionally distributed pass), ``analysis`` (what the chapter reads off it), and
the command-line tool ``python -m polycode_utils.language`` (``torchrun --nproc-per-node N -m ...``).
"""

from polycode_utils.language.analysis import (
    SiteSpectrum, Unit, UnitStatistics, action_frame, alpha_table, chance_scores, context_table, control_verdict,
    first_position_ratio, headline_numbers, language_claims, layers_at_depths, proxy_frame, proxy_scores,
    proxy_verdict,
    select_units, site_spectra, spectra_frame, token_concentration, unit_statistics, window_group_interval)
from polycode_utils.language.measure import (
    CONTROLS, TextMeasurement, TopContexts, load_measurements, measure_runs, measure_text,
    record_sites, save_measurements)
from polycode_utils.language.models import (
    EMBEDDED_DEFAULT, NAMED_MODELS, LanguageModel, load_language_model, untrained_copy)
from polycode_utils.language.sites import SITE_KINDS, architecture, site_names, site_width
from polycode_utils.language.text import (
    CORPORA, corpus_description, corpus_documents, shuffle_tokens, text_windows)

__all__ = [
    "CONTROLS", "CORPORA", "EMBEDDED_DEFAULT", "NAMED_MODELS", "SITE_KINDS", "LanguageModel", "SiteSpectrum",
    "TextMeasurement", "TopContexts", "Unit", "UnitStatistics", "action_frame",
    "alpha_table", "architecture", "chance_scores", "context_table", "control_verdict", "corpus_description",
    "corpus_documents", "first_position_ratio", "headline_numbers", "language_claims", "layers_at_depths",
    "load_language_model",
    "load_measurements", "measure_runs", "measure_text", "proxy_frame", "proxy_scores", "proxy_verdict", "record_sites",
    "save_measurements", "select_units", "shuffle_tokens", "site_names", "site_spectra", "site_width",
    "spectra_frame", "text_windows", "token_concentration", "unit_statistics", "untrained_copy",
    "window_group_interval",
]
