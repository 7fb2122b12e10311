"""``python -m polycode_utils.language`` / ``torchrun --nproc-per-node N -m polycode_utils.language``: see cli."""

from polycode_utils.language.cli import main

raise SystemExit(main())
