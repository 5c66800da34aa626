stage('prepare') {
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
        sh 'python -m pip install -r .mlgen/install/prepare.txt -r \'requirements \u00fc.txt\''
        sh 'python \'scripts/pr\u00e9pare les donn\u00e9es.py\''
        stash name: 'prepare', includes: 'donn\u00e9es/in put \u00e9.csv/**,out/it\'s [v1] #1 {x} ~backup & more/**', useDefaultExcludes: false
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
        unstash 'prepare'
        sh 'python -m pip install -r .mlgen/install/validate.txt -r \'requirements \u00fc.txt\''
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
