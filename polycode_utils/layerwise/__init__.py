"""The measurement pipeline: a network measured layer by layer.

``eigenspectra``: eigenspectra by depth and their summaries (Figs. 3 and 5, chapter 5); ``actions``: a moving dot's
random projections and their action (Fig. 4, chapter 6); ``common``: tables by layer and network, summaries over
seeds and against the untrained control, shared by both.
"""
