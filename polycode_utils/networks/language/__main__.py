"""``python -m polycode_utils.networks.language`` / ``torchrun --nproc-per-node N -m polycode_utils.networks.language``:
see cli."""

from polycode_utils.networks.language.cli import main

raise SystemExit(main())
