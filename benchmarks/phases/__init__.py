"""The phases of the event-stream benchmark (``bench_sse.py``), one module each.

* :mod:`phases.run`: every phase against one nats-server, the targets taking turns;
* :mod:`phases.publish`: the identities streams use, and the publisher;
* :mod:`phases.target`: one target process, its idle memory and its sweep rounds;
* :mod:`phases.storm`: the reconnect storm;
* :mod:`phases.channels`: authorization's cost and channel follows (culto only);
* :mod:`phases.soak`: the churn soak.
"""
