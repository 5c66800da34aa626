options {
    disableConcurrentBuilds()
    timeout(time: 90, unit: 'MINUTES')
    buildDiscarder(logRotator(numToKeepStr: '30', artifactDaysToKeepStr: '7', artifactNumToKeepStr: '10'))
}

stage('smoke') {
    agent {
        docker {
            image 'python:3.12'
            args '-e HOME=/tmp'
        }
    }
    options {
        timeout(time: 5, unit: 'MINUTES')
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
        unstash 'evaluate'
        sh 'python -m pip install -r .mlgen/install/smoke.txt'
        sh 'python smoke.py'
    }
}
