"""Area `database`: MongoDB health, slow-query shapes, index advice, replication, data hygiene.

Data flow: :mod:`.collector` (one read-only login, every command bounded by ``maxTimeMS``)
takes *snapshots* - the raw replies of serverStatus, dbStats, ``$collStats``, ``$indexStats``,
replSetGetStatus, ... masked at ingest - and writes each as one JSON file (:mod:`.snapshot`);
:mod:`.slowlog` reads MongoDB 4.4+ structured logs (and ``getLog``/``system.profile`` entries)
into slow-query rows keyed by query shape (:mod:`.shapes`). :mod:`.source` flattens both into
the store tables of :mod:`.models`; :mod:`.analysis`, :mod:`.indexes` and :mod:`.hygiene` are
pure functions over them; :mod:`.findings` judges them; :mod:`.review` is what the notebook calls.
"""
