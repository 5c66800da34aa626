// Cron only in the default branch's job; other branch and pull-request jobs get no timer.
triggers {
    cron(env.BRANCH_NAME == 'main' ? 'TZ=UTC\n0 6 * * 1' : '')
}
