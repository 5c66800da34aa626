"""What toyci cannot carry (standard library only): a line break would end its `run` line, a
`|` is its (pretend) pipe syntax, and `%{` opens its (pretend) expressions."""

from __future__ import annotations

from mlgen.backends import Constraints

CONSTRAINTS = Constraints(
    outputs=(r"toyci\.txt",),
    reserved_job_names=frozenset({"job", "run"}),
    job_id_pattern=r"[a-z][a-z0-9-]*",
    job_id_problem=("is not lower case", "toyci job names are lower-case letters, digits and `-`"),
    forbidden_characters="|",
    expression_openers=(("%{", "toyci expression"),),
    env_prefixes=("TOYCI_",),
)
