// Rollback: "Build with Parameters" in the default branch's job. The first build of a branch
// registers the parameters; Jenkins passes them to every `sh` as environment variables.
parameters {
    choice(name: 'MLGEN_ROLLBACK', choices: ['', 'production'], description: 'Roll this environment back to its previous model version and run nothing else (empty: a normal build).')
    string(name: 'MLGEN_ROLLBACK_TO', defaultValue: '', description: 'With MLGEN_ROLLBACK: the registry version to go back to (empty: the one before).')
}

stage('rollback-production') {
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
        beforeAgent true
        // cron builds run only the scheduled jobs
        not { triggeredBy 'TimerTrigger' }
        // rollback: a build with MLGEN_ROLLBACK = this environment
        allOf {
            branch pattern: 'main', comparator: 'EQUALS'
            not { changeRequest() }
            expression { params.MLGEN_ROLLBACK == 'production' }
        }
    }
    steps {
        sh 'python -m pip install -r .mlgen/install/rollback-production.txt'
        sh 'python -m mlgen_runtime rollback --plan .mlgen/plan.json --env production'
    }
}
