stage('train') {
    when {
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
    parallel {
        stage('train-1') {
            agent {
                docker {
                    image 'python:3.12'
                    args '-e HOME=/tmp'
                }
            }
            environment {
                MLGEN_SHARD_INDEX = '1'
                MLGEN_SHARD_TOTAL = '3'
            }
            options {
                timeout(time: 60, unit: 'MINUTES')
            }
            steps {
                sh 'python -m pip install -r .mlgen/install/train.txt'
                sh 'python -m mlgen_runtime train --plan .mlgen/plan.json'
                stash name: 'train-1', includes: '.mlgen/out/trials/**', useDefaultExcludes: false
            }
        }
        stage('train-2') {
            agent {
                docker {
                    image 'python:3.12'
                    args '-e HOME=/tmp'
                }
            }
            environment {
                MLGEN_SHARD_INDEX = '2'
                MLGEN_SHARD_TOTAL = '3'
            }
            options {
                timeout(time: 60, unit: 'MINUTES')
            }
            steps {
                sh 'python -m pip install -r .mlgen/install/train.txt'
                sh 'python -m mlgen_runtime train --plan .mlgen/plan.json'
                stash name: 'train-2', includes: '.mlgen/out/trials/**', useDefaultExcludes: false
            }
        }
        stage('train-3') {
            agent {
                docker {
                    image 'python:3.12'
                    args '-e HOME=/tmp'
                }
            }
            environment {
                MLGEN_SHARD_INDEX = '3'
                MLGEN_SHARD_TOTAL = '3'
            }
            options {
                timeout(time: 60, unit: 'MINUTES')
            }
            steps {
                sh 'python -m pip install -r .mlgen/install/train.txt'
                sh 'python -m mlgen_runtime train --plan .mlgen/plan.json'
                stash name: 'train-3', includes: '.mlgen/out/trials/**', useDefaultExcludes: false
            }
        }
    }
}

stage('select') {
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
        unstash 'train-1'
        unstash 'train-2'
        unstash 'train-3'
        sh 'python -m pip install -r .mlgen/install/select.txt'
        sh 'python -m mlgen_runtime select --plan .mlgen/plan.json'
        stash name: 'select', includes: '.mlgen/out/model/**', useDefaultExcludes: false
    }
}
