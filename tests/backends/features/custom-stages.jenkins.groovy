stage('featurize') {
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
        sh 'python -m pip install -r .mlgen/install/featurize.txt'
        sh 'python featurize.py data/raw.csv data/features'
        stash name: 'featurize', includes: 'data/features/**', useDefaultExcludes: false
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
        unstash 'featurize'
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
        sh 'python -m pip install -r .mlgen/install/docs.txt'
        sh 'python docs.py > report.txt'
        stash name: 'docs', includes: 'report.txt/**', useDefaultExcludes: false
    }
}
