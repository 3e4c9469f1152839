"""The domain: aggregates, their events and the rules between them.

Nothing in this package performs I/O or imports a framework. Clocks, ids and
lookups are passed in by the application layer, so replaying history always
gives the same result.
"""

from yswd.aggregates.topics import pin_stored_topics

# the one place the domain's stored topics are pinned: before any of its classes is
# used, whichever module the importer asked for (see yswd.aggregates.topics)
pin_stored_topics()
