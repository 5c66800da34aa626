stage('evaluate') {
    agent {
        docker {
            image 'python:3.12'
            args '-e HOME=/tmp'
        }
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
        unstash 'train'
        sh 'python -m pip install -r .mlgen/install/evaluate.txt'
        sh 'python -m mlgen_runtime evaluate --plan .mlgen/plan.json'
        stash name: 'evaluate', includes: '.mlgen/out/evaluate/**', useDefaultExcludes: false
    }
    // Recorded even when a check or gate failed the stage.
    post {
        always {
            junit allowEmptyResults: true, testResults: '.mlgen/out/evaluate/junit.xml'
            archiveArtifacts artifacts: '.mlgen/out/evaluate/report.md,.mlgen/out/evaluate/junit.xml,.mlgen/out/evaluate/plots/*.png', allowEmptyArchive: true, fingerprint: false
        }
    }
}
