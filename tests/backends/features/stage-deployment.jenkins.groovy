stage('smoke-test') {
    agent {
        docker {
            image 'python:3.12'
            args '-e HOME=/tmp'
        }
    }
    options {
        timeout(time: 10, unit: 'MINUTES')
        lock(resource: 'mlgen-deploy-staging')
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
        message 'Deploy fraud to staging?'
        ok 'Deploy'
    }
    steps {
        sh 'python -m pip install -r .mlgen/install/smoke-test.txt'
        sh 'python scripts/smoke.py --env staging'
    }
}
