"""The plan: mlgen's provider-neutral intermediate representation."""

from mlgen_runtime.contract import FORMAT_VERSION, Artifact, Environment, Job, Plan, Triggers

__all__ = ["FORMAT_VERSION", "Artifact", "Environment", "Job", "Plan", "Triggers"]
