"""asv benchmark suite for chronotope (run from ``asv_bench/``: ``asv run --quick --python=same``)."""
