// Use it as a multibranch pipeline: the branch and changeRequest conditions need one.
// Plugins: Docker Pipeline (stage agents), Lockable Resources (deploy locks), JUnit (test results).
// Jenkins has no built-in cross-build cache: every stage starts in a fresh docker workspace,
// so the runtime's own .mlgen/cache/ only helps when an agent reuses the workspace.
// Registry: set MLGEN_REGISTRY, in the agent's environment or as a global/folder property (both reach `sh` as environment variables), to an object-storage URL (s3://bucket/prefix, gs://..., az://container/prefix) or an absolute path that outlives the jobs; unset, the runtime uses deploy.registry (a folder there lives in the job's checkout, which is discarded).
// Registry: object-storage credentials reach only the registry jobs: list them in deploy.secrets (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_CONNECTION_STRING, GOOGLE_APPLICATION_CREDENTIALS), or better use short-lived OIDC credentials (docs/providers.md).

stage('deploy-production') {
    agent {
        docker {
            image 'python:3.12'
            args '-e HOME=/tmp'
        }
    }
    options {
        timeout(time: 60, unit: 'MINUTES')
        lock(resource: 'mlgen-deploy-production')
    }
    when {
        beforeOptions true
        beforeInput true
        beforeAgent true
        // a rollback build runs only its rollback stage
        expression { !params.MLGEN_ROLLBACK }
        // cron builds run only the scheduled jobs
        not { triggeredBy 'TimerTrigger' }
        anyOf {
            // push: a branch build started by the SCM
            allOf {
                branch pattern: 'main', comparator: 'EQUALS'
                not { changeRequest() }
                not { triggeredBy cause: 'UserIdCause' }
            }
            // manual: a build started by a person
            allOf {
                branch pattern: 'main', comparator: 'EQUALS'
                triggeredBy cause: 'UserIdCause'
                not { changeRequest() }
            }
        }
    }
    input {
        message 'Deploy fraud to production?'
        ok 'Deploy'
    }
    steps {
        unstash 'evaluate'
        unstash 'train'
        sh 'python -m pip install -r .mlgen/install/deploy-production.txt'
        sh 'python -m mlgen_runtime deploy --plan .mlgen/plan.json --env production'
    }
}
