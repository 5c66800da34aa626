"""The project's own estimator: scikit-learn's logistic regression under a local name."""

from sklearn.linear_model import LogisticRegression


class Logistic(LogisticRegression):
    pass
