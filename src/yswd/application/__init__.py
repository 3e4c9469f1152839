"""The application layer: one module per use case, and one unit of work.

It turns commands into aggregate calls and saves the results. It reaches the
outside world only through the ports in ``yswd.application.ports``, which the
composition root (``yswd.bootstrap``) fills.
"""
