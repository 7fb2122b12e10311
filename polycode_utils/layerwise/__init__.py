"""The measurement pipeline: a network measured layer by layer.

``eigenspectra``: eigenspectra by depth (Figs. 3 and 5); ``actions``: a moving dot's random projections and their
action (Fig. 4); ``common``: tables by layer and network, summaries over seeds and against the untrained control,
shared by both. What a chapter states from them lives in the report layer (reports.ch05_spectra,
reports.ch06_projections).
"""
