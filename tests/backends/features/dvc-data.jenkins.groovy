// Use it as a multibranch pipeline: the branch and changeRequest conditions need one.
// Plugins: Docker Pipeline (stage agents), JUnit (test results). Credentials (Secret text, these ids): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
// Jenkins has no built-in cross-build cache: every stage starts in a fresh docker workspace,
// so the runtime's own .mlgen/cache/ only helps when an agent reuses the workspace.

stage('validate') {
    agent {
        docker {
            image 'python:3.12'
            args '-e HOME=/tmp'
        }
    }
    environment {
        AWS_ACCESS_KEY_ID = credentials('AWS_ACCESS_KEY_ID')
        AWS_SECRET_ACCESS_KEY = credentials('AWS_SECRET_ACCESS_KEY')
    }
    options {
        timeout(time: 60, unit: 'MINUTES')
    }
    when {
        beforeAgent true
        // cron builds run only the scheduled jobs
        not { triggeredBy 'TimerTrigger' }
        anyOf {
            // push: a branch build started by the SCM
            allOf {
                branch pattern: 'main', comparator: 'EQUALS'
                not { changeRequest() }
                not { triggeredBy cause: 'UserIdCause' }
            }
            // pull_request: a change request build
            changeRequest target: 'main', comparator: 'EQUALS'
            // manual: a build started by a person
            allOf {
                triggeredBy cause: 'UserIdCause'
                not { changeRequest() }
            }
        }
    }
    steps {
        sh 'python -m pip install -r .mlgen/install/validate.txt'
        sh 'dvc pull data/tx.csv'
        sh 'python -m mlgen_runtime validate --plan .mlgen/plan.json'
        stash name: 'validate', includes: '.mlgen/out/validate/**', useDefaultExcludes: false
    }
    // Recorded even when a check or gate failed the stage.
    post {
        always {
            junit allowEmptyResults: true, testResults: '.mlgen/out/validate/junit.xml'
            archiveArtifacts artifacts: '.mlgen/out/validate/report.md,.mlgen/out/validate/junit.xml', allowEmptyArchive: true, fingerprint: false
        }
    }
}
