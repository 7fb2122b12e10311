"""Instruments: eigenspectra and their power-law fits, random projections and their action, the moving-dot stimuli,
information estimators."""
