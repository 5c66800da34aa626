options {
    disableConcurrentBuilds()
    timeout(time: 240, unit: 'MINUTES')
    buildDiscarder(logRotator(numToKeepStr: '30', artifactDaysToKeepStr: '14', artifactNumToKeepStr: '10'))
}
