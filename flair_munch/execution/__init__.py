"""How a study's jobs execute (``execution:``, ``--executor``): the executor registry and its executors."""
