"""A preview's life: its files' layout in the bucket (`layout`), its one writer (`lifecycle`),
how its work is started by name (`dispatch`), what a request may ask (`request`), and the sweep
that relaunches runs that died (`liveness`)."""
