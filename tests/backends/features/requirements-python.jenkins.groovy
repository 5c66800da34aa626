stage('train') {
    agent {
        docker {
            image 'python:3.11'
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
        sh 'python -m pip install -r .mlgen/install/train.txt -r requirements.txt'
        sh 'python -m mlgen_runtime train --plan .mlgen/plan.json'
        stash name: 'train', includes: '.mlgen/out/model/**', useDefaultExcludes: false
    }
}
