"""Runtime beside theory and instruments: devices, threads and worker processes that die with their parent; atomic,
fingerprinted checkpoint files."""
