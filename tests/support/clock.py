"""The one fake clock of the tests: a callable that returns ``now``, which the
test moves forward by hand (``clock.now += 1.5`` or ``clock.advance(1.5)``)."""


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
