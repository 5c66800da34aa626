// Use it as a multibranch pipeline: the branch and changeRequest conditions need one.
// Plugins: Docker Pipeline (stage agents), JUnit (test results).
// Jenkins has no built-in cross-build cache: every stage starts in a fresh docker workspace,
// so the runtime's own .mlgen/cache/ only helps when an agent reuses the workspace.
