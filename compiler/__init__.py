"""mlgen: compile one ML project spec into native CI pipelines plus a bundled stage runtime."""

__version__ = "0.1.0"
