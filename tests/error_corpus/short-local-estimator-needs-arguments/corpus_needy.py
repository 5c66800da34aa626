class Needy:
    def __init__(self, alpha):
        self.alpha = alpha

    def fit(self, X, y):
        return self
