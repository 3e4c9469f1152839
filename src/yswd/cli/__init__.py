"""The ways in: the ``yswd`` command and a rebuild's second process.

These modules stand above the composition root (``yswd.bootstrap``): each builds
the container and hands it to the adapters it starts (the web app, the worker,
the audit and backup commands). Nothing below imports them.
"""
