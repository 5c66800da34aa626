"""mlgen's stage runtime: validate, train, select, evaluate, deploy, rollback and monitor.

Stands alone: it depends on numpy, pandas, scikit-learn, skops and matplotlib, never on the
compiler, pydantic, jinja2 or typer. `mlgen compile` copies it into `.mlgen/runtime/` of the
user's repository, where every CI job runs `python -m mlgen_runtime <stage> --plan PLAN`.
"""

__version__ = "0.1.0"
