stage('scan') {
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
        unstash 'evaluate'
        unstash 'train'
        sh 'python -m pip install -r .mlgen/install/scan.txt'
        sh 'python -m mlgen_runtime scan --plan .mlgen/plan.json'
        stash name: 'scan', includes: '.mlgen/out/scan/**', useDefaultExcludes: false
    }
    // Recorded even when a check or gate failed the stage.
    post {
        always {
            junit allowEmptyResults: true, testResults: '.mlgen/out/scan/junit.xml'
            archiveArtifacts artifacts: '.mlgen/out/scan/report.md,.mlgen/out/scan/junit.xml', allowEmptyArchive: true, fingerprint: false
        }
    }
}
