"""polycode_utils: the library behind the polycode book (Marshall & Kirchner, arXiv 2401.17975).

One small module per concept, in layers that import only downwards (checked by import-linter in `make test`):
checks; theory (codes, capacity, toy_models) and instruments (spectra, projections, stimuli, information);
networks (models, data, training, activations, error_correction, language); the measurement pipeline
(layerwise); plotting functions (plots). The book's machinery is the sub-package `polycode_utils.book`: no science
module imports it, and it imports none of them.
"""

__version__ = "0.1.0"
