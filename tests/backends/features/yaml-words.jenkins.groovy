stage('docs') {
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
                anyOf {
                    branch pattern: 'main', comparator: 'EQUALS'
                    branch pattern: '0o17', comparator: 'EQUALS'
                }
                not { changeRequest() }
                not { triggeredBy cause: 'UserIdCause' }
            }
            // pull_request: a change request build
            anyOf {
                changeRequest target: 'main', comparator: 'EQUALS'
                changeRequest target: '0o17', comparator: 'EQUALS'
            }
            // manual: a build started by a person
            allOf {
                triggeredBy cause: 'UserIdCause'
                not { changeRequest() }
            }
        }
    }
    steps {
        unstash 'evaluate'
        sh 'python -m pip install -r .mlgen/install/docs.txt'
        sh 'echo "report: ${CI_COMMIT_SHA:-local}" > report.txt && cat report.txt # yes: on'
        stash name: 'docs', includes: 'report.txt/**', useDefaultExcludes: false
    }
}
