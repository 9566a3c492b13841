import sys

from . import tune_gc

tune_gc()  # before the heavy imports: they are most of the allocations

from .cli import main  # noqa: E402

sys.exit(main())
