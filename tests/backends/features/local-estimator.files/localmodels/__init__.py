"""A project-local estimator package: its files key the cache of the jobs that run it."""
