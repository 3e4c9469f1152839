"""Read models fed by events. Each tracks its own position and can be rebuilt from zero.

- the read models, one module each with its tables and queries: ``staff_items``
  (the item rows), ``organisation``, ``staff_directory``, ``clips``,
  ``access_log``, ``audit_chain`` and ``gap_box_list``;
- queries over the item rows: ``public_board``, ``response_times``,
  ``feedback_pack``, ``agenda``, ``similarity``, ``audit_queries`` and
  ``item_places`` (each item's ward, for area boards);
- the machinery: ``runner`` (reads the log in batches and feeds the models),
  ``tracking`` (positions and dead letters), ``answers`` (cached public answers),
  ``sql`` (the SQL every model shares) and ``ports`` (what this layer needs from
  outside, filled by the composition root).
"""
