"""polycode_utils: the library behind the polycode book (Marshall & Kirchner, arXiv 2401.17975).

One small module per concept: theory (codes, capacity, toy_models), instruments (spectra, projections,
stimuli), networks (data, models, training, activations). The library never imports the book's build tool.
"""

__version__ = "0.1.0"
