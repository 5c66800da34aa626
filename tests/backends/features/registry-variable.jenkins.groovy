// Use it as a multibranch pipeline: the branch and changeRequest conditions need one.
// Plugins: Docker Pipeline (stage agents), Lockable Resources (deploy locks), JUnit (test results). Credentials (Secret text, these ids): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
// Jenkins has no built-in cross-build cache: every stage starts in a fresh docker workspace,
// so the runtime's own .mlgen/cache/ only helps when an agent reuses the workspace.
// Registry: set MLGEN_REGISTRY, in the agent's environment or as a global/folder property (both reach `sh` as environment variables), to an object-storage URL (s3://bucket/prefix, gs://..., az://container/prefix) or an absolute path that outlives the jobs; unset, the runtime uses deploy.registry (a folder there lives in the job's checkout, which is discarded).
// Registry: object-storage credentials reach only the registry jobs: list them in deploy.secrets (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_CONNECTION_STRING, GOOGLE_APPLICATION_CREDENTIALS), or better use short-lived OIDC credentials (docs/providers.md).
