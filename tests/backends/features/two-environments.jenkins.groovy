stage('deploy-staging') {
    agent {
        docker {
            image 'python:3.12'
            args '-e HOME=/tmp'
        }
    }
    options {
        timeout(time: 60, unit: 'MINUTES')
        lock(resource: 'mlgen-deploy-staging')
    }
    when {
        beforeOptions true
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
    steps {
        unstash 'evaluate'
        unstash 'train'
        sh 'python -m pip install -r .mlgen/install/deploy-staging.txt'
        sh 'python -m mlgen_runtime deploy --plan .mlgen/plan.json --env staging'
    }
}

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
