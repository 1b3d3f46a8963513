"""``python -m ppl``: the ``ppl`` command (so that ``torchrun --nproc_per_node N -m ppl run ...``
starts one process per device)."""

import sys

from .cli import main

sys.exit(main())
