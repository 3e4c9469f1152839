"""The domain: aggregates, their events and the rules between them.

Nothing in this package performs I/O or imports a framework. Clocks, ids and
lookups are passed in by the application layer, so replaying history always
gives the same result.
"""
