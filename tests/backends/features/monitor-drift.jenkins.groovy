stage('monitor') {
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
        anyOf {
            // schedule: a cron build of the default branch
            allOf {
                branch pattern: 'main', comparator: 'EQUALS'
                triggeredBy 'TimerTrigger'
            }
            // manual: a build started by a person
            allOf {
                triggeredBy cause: 'UserIdCause'
                not { changeRequest() }
            }
        }
    }
    steps {
        sh 'python -m pip install -r .mlgen/install/monitor.txt'
        sh 'python -m mlgen_runtime monitor --plan .mlgen/plan.json'
        script {
            env.MLGEN_DRIFTED = readFile('.mlgen/out/monitor/drifted').trim()
        }
        stash name: 'monitor', includes: '.mlgen/out/monitor/**', useDefaultExcludes: false
    }
    // Recorded even when a check or gate failed the stage.
    post {
        always {
            junit allowEmptyResults: true, testResults: '.mlgen/out/monitor/junit.xml'
            archiveArtifacts artifacts: '.mlgen/out/monitor/report.md,.mlgen/out/monitor/junit.xml', allowEmptyArchive: true, fingerprint: false
        }
    }
}

stage('validate') {
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
        anyOf {
            // builds other than cron
            allOf {
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
            // schedule: retrain when the monitor stage found drift
            allOf {
                branch pattern: 'main', comparator: 'EQUALS'
                triggeredBy 'TimerTrigger'
                expression { env.MLGEN_DRIFTED == 'true' }
            }
        }
    }
    steps {
        sh 'python -m pip install -r .mlgen/install/validate.txt'
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
